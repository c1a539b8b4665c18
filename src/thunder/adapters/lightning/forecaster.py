"""Forecaster port over a Lightning Trainer and the generic ForecastModule around the architecture
model_config.architecture names; weights saved as a safe checkpoint.

A checkpoint is {format, hyper-parameters, state_dict}, loaded with torch.load(weights_only=True),
so a swapped file cannot run code on load.
"""

import contextlib
import io
import json
import logging
import math
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint, RichProgressBar
from pytorch_lightning.loggers import CSVLogger, Logger, TensorBoardLogger
from pytorch_lightning.strategies import DDPStrategy
from pytorch_lightning.tuner.tuning import Tuner
from torch.utils.data import DataLoader

from thunder.adapters.cluster import distributed
from thunder.adapters.lightning.data import WindowBatches
from thunder.adapters.lightning.module import ForecastModule
from thunder.adapters.lightning.networks.config import NetworkConfig
from thunder.adapters.lightning.networks.losses import loss_for
from thunder.adapters.lightning.networks.zoo import build
from thunder.adapters.lightning.optim import adamw, schedule
from thunder.adapters.messages import first_line
from thunder.adapters.mlflow_tracker import mlflow_logger, run_of
from thunder.adapters.onnx_model import FORMAT as ONNX_FORMAT
from thunder.adapters.onnx_model import META_FORMAT, META_NETWORK, META_QUANTIZED
from thunder.adapters.slices import run_sliced
from thunder.domain.errors import ArtifactCorrupt, ConfigError, NothingToResume
from thunder.domain.ports import WindowStream
from thunder.domain.tuning import EpochHook
from thunder.domain.values import FitResult, FloatArray, Prediction

FORMAT = "thunder.xlstm.v1"


@dataclass(frozen=True)
class TrainingOptions:
    epochs: int = 10
    max_steps: int | None = None
    batch_size: int = 32
    learning_rate: float = 1e-3
    seed: int = 42
    accelerator: str = "auto"
    precision: str = "32"
    progress: bool = False
    shuffle_buffer: int = 4096
    early_stopping_patience: int | None = None
    early_stopping_min_delta: float = 0.0
    lr_schedule: str = "none"
    warmup_steps: int = 0
    gradient_clip_val: float | None = None
    log_dir: str | None = None  # CSV metrics (and TensorBoard's files when logger asks) go here
    logger: str = "csv"  # also "tensorboard" or "mlflow", besides the CSV log
    tracking_uri: str | None = None  # MLflow's store, when logger is "mlflow"
    experiment: str = "thunder"
    artifact_location: str | None = None  # where a new MLflow experiment keeps its files
    epoch_end: EpochHook | None = None  # a search's pruning hook: (epoch, val_loss) -> stop?
    checkpoint_dir: str | None = None  # per-run folders of epoch checkpoints, for --resume
    find_lr: bool = False  # run the learning-rate range test first and train with its pick


class KeepBestWeights(pl.Callback):
    """Remembers the weights of the epoch with the lowest val_loss, so the saved model is the best."""

    def __init__(self) -> None:
        self.best: float | None = None
        self.state: dict[str, torch.Tensor] | None = None

    def on_validation_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        loss = trainer.callback_metrics.get("val_loss")
        if loss is not None and (self.best is None or float(loss) < self.best):
            self.best = float(loss)
            self.state = {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}

    def state_dict(self) -> dict[str, Any]:
        """Saved in each checkpoint, so a resumed run still returns the best epoch's weights."""
        return {"best": self.best, "state": self.state}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best, self.state = state_dict["best"], state_dict["state"]


class ReportEpochs(pl.Callback):
    """Hands each epoch's val_loss to a hook (a hyper-parameter search's pruner) and stops the
    run when it says so. Ours, not optuna-integration's: that one only speaks to the `lightning`
    package's Trainer, and thunder trains with `pytorch_lightning`'s."""

    def __init__(self, hook: EpochHook) -> None:
        self._hook = hook

    def on_validation_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        loss = trainer.callback_metrics.get("val_loss")
        if trainer.sanity_checking or loss is None:
            return
        if self._hook(trainer.current_epoch, float(loss)):
            trainer.should_stop = True


class LightningForecaster:
    def __init__(self, network: NetworkConfig, options: TrainingOptions) -> None:
        self._network = network
        self._options = options
        self._module = self._new_module(total_steps=None)
        self._traced: Callable[[torch.Tensor], torch.Tensor] | None = None

    def fit(
        self,
        train: WindowStream,
        val: WindowStream,
        *,
        train_windows: int | None = None,
        run_id: str | None = None,
        resume: bool = False,
        batch_sizes: Sequence[int] | None = None,
    ) -> FitResult:
        opts = self._options
        run_dir = Path(opts.checkpoint_dir) / run_id if opts.checkpoint_dir and run_id else None
        last = run_dir / "last.ckpt" if run_dir else None
        if resume and (last is None or not last.exists()):
            raise NothingToResume(
                f"no checkpoint of this data and config in {run_dir or opts.checkpoint_dir}: a run "
                f"saves one after each epoch; start without --resume"
            )
        pl.seed_everything(opts.seed, workers=True, verbose=False)
        self._module = self._new_module(self._total_steps(train_windows, batch_sizes))
        self._traced = None
        best = KeepBestWeights()
        callbacks: list[pl.Callback] = [best]
        if opts.early_stopping_patience is not None:
            callbacks.append(
                EarlyStopping(
                    monitor="val_loss",
                    mode="min",
                    patience=opts.early_stopping_patience,
                    min_delta=opts.early_stopping_min_delta,
                    strict=False,  # no validation windows: nothing to stop on
                )
            )
        if opts.epoch_end is not None:
            callbacks.append(ReportEpochs(opts.epoch_end))
        if run_dir is not None:
            # a checkpoint after every epoch; `last.ckpt` is what --resume continues from
            callbacks.append(ModelCheckpoint(dirpath=run_dir, save_last=True, save_top_k=1))
        train_data = WindowBatches(
            train,
            opts.batch_size,
            shuffle=True,
            seed=opts.seed,
            buffer_windows=opts.shuffle_buffer,
            sizes=batch_sizes,
        )
        val_loader = self._loader(val)
        start = time.perf_counter()
        found = False
        if opts.find_lr and not resume:  # a resumed run keeps the rate it started with
            found = self._find_lr(train_data)
            pl.seed_everything(opts.seed, workers=True, verbose=False)
        with _quiet_lightning():
            trainer = self._trainer(
                callbacks=callbacks, max_epochs=opts.epochs, loggers=self._loggers()
            )
            try:
                trainer.fit(
                    self._module,
                    DataLoader(train_data, batch_size=None),
                    val_loader,
                    ckpt_path=str(last) if resume else None,
                )
            except SystemExit:
                # Lightning turns Ctrl+C into sys.exit(1); give the caller its KeyboardInterrupt
                if trainer.interrupted:
                    raise KeyboardInterrupt from None
                raise
        wall = time.perf_counter() - start
        if run_dir is not None and trainer.is_global_zero:  # finished: checkpoints served
            shutil.rmtree(run_dir, ignore_errors=True)
        if best.state is not None:
            self._module.load_state_dict(best.state)
        self._module.cpu().eval()
        return FitResult(
            epochs=trainer.current_epoch,
            steps=trainer.global_step // self._module.groups,  # see _trainer
            windows_seen=self._module.windows_seen,
            wall_s=wall,
            best_val_loss=best.best,
            log_dir=trainer.loggers[0].log_dir if trainer.loggers else None,
            learning_rate=self._module.learning_rate,
            lr_found=found,
            tracking_run=run_of(trainer.loggers),
        )

    def _new_module(self, total_steps: int | None) -> ForecastModule:
        """The architecture model_config names, its loss, AdamW per parameter group and the
        configured schedule, in the generic module."""
        opts = self._options
        net = build(self._network)
        return ForecastModule(
            net,
            loss_for(net),
            adamw,
            schedule(opts.lr_schedule, opts.warmup_steps, total_steps),
            learning_rate=opts.learning_rate,
            gradient_clip_val=opts.gradient_clip_val,
        )

    def _find_lr(self, train_data: WindowBatches) -> bool:
        """Lightning's range test: 100 steps with the rate rising exponentially from 1e-6 to 1,
        then the rate at the steepest fall of the smoothed loss. The weights are restored after;
        the module keeps the suggestion as its learning_rate. False when the test gave none
        (e.g. a loss that never fell): the configured rate stays."""
        if self._module.groups > 1:  # Lightning's range test drives exactly one optimiser
            raise ConfigError(
                f"--find-lr needs one optimiser; model_config.architecture "
                f"'{self._network.architecture}' trains {self._module.groups}: set "
                f"model_config.learning_rate instead",
                field="model_config.architecture",
            )
        # the finder parks the initial weights in a checkpoint file: keep it out of the cwd
        with _quiet_lightning(), tempfile.TemporaryDirectory(prefix="thunder-lr-") as tmp:
            trainer = self._trainer(callbacks=[], max_epochs=10_000, root_dir=tmp)
            finder = Tuner(trainer).lr_find(
                self._module,
                train_dataloaders=DataLoader(train_data, batch_size=None),
                min_lr=1e-6,
                max_lr=1.0,
                num_training=100,
                attr_name="learning_rate",
            )
        return finder is not None and finder.suggestion() is not None

    def predict(self, x: FloatArray) -> Prediction:
        """Forecasts in slices (adapters/slices.py): bounded memory, every core on a large
        batch."""
        inputs = np.ascontiguousarray(x, dtype=np.float32)
        net = self._inference_net(torch.Size(inputs.shape[1:]))

        def run(part: FloatArray) -> FloatArray:
            with torch.inference_mode():  # per thread: the mode is thread-local
                out: FloatArray = net(torch.from_numpy(part)).numpy()  # [n, future, T, Q]
            return out

        out = run_sliced(inputs, run, torch.get_num_threads())
        return Prediction.from_outputs(out, self._network.quantiles)

    def _inference_net(self, window: torch.Size) -> Callable[[torch.Tensor], torch.Tensor]:
        """The network traced with TorchScript, frozen and optimised for inference, once per
        trained model: no Python per op (the sLSTM loop is unrolled), weights folded in as
        constants, linear layers on oneDNN. One window: 0.75 ms ("mm") to 1.4 ms ("ms") on one
        thread, against 2.9-3.6 ms eager."""
        if self._traced is None:
            net = self._module.net.eval()
            example = torch.zeros(1, *window)
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # TracerWarnings about shapes: batch stays dynamic
                traced = torch.jit.trace(net, example, check_trace=False)  # type: ignore[no-untyped-call]
                self._traced = torch.jit.optimize_for_inference(torch.jit.freeze(traced))
        return self._traced

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        state = {k: v.cpu() for k, v in self._module.state_dict().items()}
        torch.save({"format": FORMAT, "network": self._network.as_dict(), "state_dict": state}, buf)
        return buf.getvalue()

    def to_onnx(self, int8: bool = False) -> bytes:
        """The network as ONNX (opset 17, the batch axis dynamic): the function predict() runs,
        with the network's config in the file's metadata, so the file describes itself.
        `int8`: weights of the matrix products quantised to int8 by onnxruntime's dynamic
        quantisation (activations quantised on the fly), a smaller file and cheaper products."""
        import onnx  # the `onnx` extra

        cfg = self._network
        example = torch.zeros(1, cfg.past_steps, cfg.num_features)
        with (
            tempfile.TemporaryDirectory() as tmp,
            torch.no_grad(),
            warnings.catch_warnings(),
        ):
            warnings.simplefilter("ignore")  # TracerWarnings about shapes: batch stays dynamic
            path = Path(tmp) / "model.onnx"
            torch.onnx.export(
                self._module.net.eval(),
                (example,),
                path,
                dynamo=False,  # the TorchScript exporter: no onnxscript needed, the loop unrolled
                opset_version=17,
                input_names=["x"],
                output_names=["y"],
                dynamic_axes={"x": {0: "windows"}, "y": {0: "windows"}},
            )
            if int8:
                from onnxruntime.quantization import QuantType, quantize_dynamic

                quantized = Path(tmp) / "model.int8.onnx"
                root = logging.getLogger()
                level, root.level = root.level, logging.ERROR  # its advice goes to the root logger
                try:
                    quantize_dynamic(path, quantized, weight_type=QuantType.QInt8)
                finally:
                    root.setLevel(level)
                path = quantized
            model = onnx.load(path)
        meta = {META_FORMAT: ONNX_FORMAT, META_NETWORK: json.dumps(cfg.as_dict())}
        if int8:
            meta[META_QUANTIZED] = "int8"
        onnx.helper.set_model_props(model, meta)
        return bytes(model.SerializeToString())

    @classmethod
    def from_bytes(cls, data: bytes, origin: str = "model") -> "LightningForecaster":
        try:
            ckpt = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
            if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
                raise ValueError("unknown format")
            forecaster = cls(NetworkConfig.from_dict(ckpt["network"]), TrainingOptions())
            forecaster._module.load_state_dict(ckpt["state_dict"])
        except Exception as e:  # torch raises many kinds on a truncated or foreign file
            raise ArtifactCorrupt(
                f"{origin}: not a thunder model checkpoint ({first_line(e)})"
            ) from None
        forecaster._module.eval()
        return forecaster

    def _total_steps(
        self, train_windows: int | None, batch_sizes: Sequence[int] | None
    ) -> int | None:
        """The schedule's length; every rank of a distributed run gets the same (its batch count
        is the same), so their learning rates never drift apart."""
        opts = self._options
        per_epoch = math.ceil(train_windows / opts.batch_size) if train_windows else None
        if batch_sizes is not None:
            per_epoch = len(batch_sizes)
        candidates = [s for s in (opts.max_steps, per_epoch and per_epoch * opts.epochs) if s]
        return min(candidates) if candidates else None

    def _loggers(self) -> list[Logger]:
        """CSV metrics always (no extra dependency), plus the one training_config.logger names."""
        opts = self._options
        loggers: list[Logger] = []
        if opts.log_dir is not None:
            loggers.append(CSVLogger(opts.log_dir, name="csv"))
            if opts.logger == "tensorboard":
                loggers.append(TensorBoardLogger(opts.log_dir, name="tensorboard"))
        if opts.logger == "mlflow" and opts.tracking_uri is not None:
            loggers.append(
                mlflow_logger(opts.tracking_uri, opts.experiment, opts.artifact_location)
            )
        return loggers

    def _trainer(
        self,
        callbacks: list[pl.Callback],
        max_epochs: int,
        loggers: list[Logger] | None = None,
        root_dir: str | None = None,
    ) -> pl.Trainer:
        opts = self._options
        if opts.progress:
            callbacks = [*callbacks, RichProgressBar(leave=True)]
        # under manual optimisation Lightning counts every optimiser's step in global_step, and
        # the module clips the gradients itself
        groups, manual = self._module.groups, not self._module.automatic_optimization
        return pl.Trainer(
            max_epochs=max_epochs,
            max_steps=opts.max_steps * groups if opts.max_steps is not None else -1,
            accelerator=opts.accelerator,
            **_processes(),
            precision=opts.precision,  # type: ignore[arg-type]
            callbacks=callbacks,
            gradient_clip_val=None if manual else opts.gradient_clip_val,
            logger=loggers or False,
            log_every_n_steps=10,
            enable_checkpointing=any(isinstance(c, ModelCheckpoint) for c in callbacks),
            enable_model_summary=False,
            enable_progress_bar=opts.progress,
            num_sanity_val_steps=0,
            default_root_dir=root_dir,
        )

    def _loader(self, stream: WindowStream) -> DataLoader[Any]:
        return DataLoader(WindowBatches(stream, self._options.batch_size), batch_size=None)


def _processes() -> dict[str, Any]:
    """Lightning's DDP in the process group thunder opened (see adapters/cluster/distributed.py), or one
    device: more local processes are started by thunder's launcher, never by Lightning's."""
    where = distributed.layout()
    if where is None:
        return {"devices": 1}
    strategy = DDPStrategy(
        cluster_environment=where.environment, process_group_backend=where.backend
    )
    return {"strategy": strategy, "devices": where.local_processes, "num_nodes": where.nodes}


@contextlib.contextmanager
def _quiet_lightning() -> Iterator[None]:
    """Silence Lightning's banner lines (GPU available..., tips) that would bury thunder's summary."""
    names = ("pytorch_lightning", "pytorch_lightning.utilities.rank_zero")
    levels = {n: logging.getLogger(n).level for n in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*does not have many workers.*")
            warnings.filterwarnings("ignore", message=".*IterableDataset.*")
            warnings.filterwarnings("ignore", message=".*LeafSpec.*is deprecated.*")
            # resuming writes into the run's own checkpoint folder, which is not empty by design
            warnings.filterwarnings("ignore", message=".*exists and is not empty.*")
            # no validation windows: the plateau schedule has nothing to follow, by design
            warnings.filterwarnings("ignore", message=".*ReduceLROnPlateau conditioned on metric.*")
            # the learning-rate range test runs on train batches alone, by design
            warnings.filterwarnings("ignore", message=".*but have no `val_dataloader`.*")
            yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
