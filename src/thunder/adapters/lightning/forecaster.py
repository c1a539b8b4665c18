"""Forecaster port over a Lightning Trainer and the ThunderModule around the architecture
model_config.architecture names; weights saved as a safe checkpoint (checkpoint.py).

The Trainer is built in trainer.py, its callbacks in callbacks.py, the learning-rate range test
in lr_finder.py; export.py makes the trained network fast to run (TorchScript, ONNX).
"""

import math
import shutil
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader

from thunder.adapters.lightning import batch_finder, checkpoint, custom, export
from thunder.adapters.lightning.callbacks import KeepBestWeights, training_callbacks
from thunder.adapters.lightning.closed_form import ClosedFormStart
from thunder.adapters.lightning.data import WindowBatches
from thunder.adapters.lightning.lr_finder import find_learning_rate
from thunder.adapters.lightning.module import ThunderModule
from thunder.adapters.lightning.named_callbacks import built_callbacks
from thunder.adapters.lightning.networks.base import Forecasting, WindowNetwork
from thunder.adapters.lightning.networks.losses import forecast_loss, loss_for
from thunder.adapters.lightning.networks.xlstm_mixer import XLSTMMixerNetwork
from thunder.adapters.lightning.networks.zoo import build
from thunder.adapters.lightning.optim import optimizer, schedule
from thunder.adapters.lightning.predictors import Standardised
from thunder.adapters.lightning.trainer import (
    RunLayout,
    build_trainer,
    quiet_lightning,
    training_loggers,
)
from thunder.adapters.lightning.warm_start import start_weights
from thunder.adapters.mlflow_tracker import run_of
from thunder.adapters.slices import run_sliced
from thunder.domain.errors import ConfigError, NothingToResume
from thunder.domain.ports import WindowStream
from thunder.domain.training import NetworkConfig, OptimizerConfig, TrainingOptions
from thunder.domain.values import FitResult, FloatArray, Prediction, Scaling


class LightningForecaster:
    def __init__(
        self,
        network: NetworkConfig,
        options: TrainingOptions,
        layout: RunLayout | None = None,
        module: object | None = None,
        program: bytes | None = None,
        start: tuple[str, bytes] | None = None,
    ) -> None:
        """`layout`: where this process sits in a launched run (the connected cluster's);
        None trains on one device. `module`: a user's ThunderModule to train instead of the
        network model_config names (custom.py). `start`: (its name, a published model) whose
        weights training starts from (--init-from; warm_start.py)."""
        self._network = network
        self._options = options
        self._layout = layout
        self._custom = module is not None or program is not None
        self._program = program
        # loaded once: a damaged program fails here (inside checkpoint.load: ArtifactCorrupt)
        self._loaded = custom.load_program(program) if program is not None else None
        self._trained: ThunderModule | None = None
        self._named_callbacks = built_callbacks(options.named_callbacks)  # before any data
        self._start = start_weights(start[1], network, start[0]) if start else None
        refused = batch_finder.refusal(options.accelerator) if options.find_batch_size else None
        if refused is not None:
            raise ConfigError(refused, field="find_batch_size")
        if module is not None:
            _refuse_for_own_module(options, module)  # said before any data is read
            self._trained = custom.checked_module(module, network)
        elif program is None:
            if options.find_lr and network.architecture == "xlstm_mixer":
                raise ConfigError(
                    "find_lr does not apply to xlstm_mixer: its linear path is solved before "
                    "training, which the range test does not run; set model_config.learning_rate",
                    field="find_lr",
                )
            self._trained = self._new_module(None)
        self._traced: export.InferenceNet | None = None

    @property
    def _module(self) -> ThunderModule:
        if self._trained is None:
            raise ConfigError("a published user's network forecasts, it does not train again")
        return self._trained

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
        run_dir = _run_dir(self._options.checkpoint_dir, run_id, resume)
        start = time.perf_counter()
        # first: what follows (the schedule's length, the batches) takes the size it finds
        batch = (
            self._find_batch_size(train, train_windows) if self._options.find_batch_size else None
        )
        opts = self._options
        pl.seed_everything(opts.seed, workers=True, verbose=False)
        total_steps = self._total_steps(train_windows, batch_sizes)
        if not self._custom:
            self._trained = self._new_module(total_steps)
        self._module.train()  # a user's module may come back from an earlier fit in eval mode
        self._traced = None
        best, callbacks = training_callbacks(opts, run_dir)
        callbacks += custom.user_callbacks(opts.callbacks) + self._named_callbacks
        if self._solves_linear_path():
            callbacks.append(ClosedFormStart(best))
        train_data = self._batches(train, batch_sizes)
        val_loader = DataLoader(WindowBatches(val, opts.batch_size), batch_size=None)
        found = None
        if opts.find_lr and not resume:  # a resumed run keeps the rate it started with
            arch = self._network.architecture
            found = find_learning_rate(self._module, train_data, opts, self._layout, arch)
            pl.seed_everything(opts.seed, workers=True, verbose=False)
            if found is not None:  # the same initial weights (same seed), the found rate
                self._trained = self._new_module(total_steps, found)
        with quiet_lightning():
            loggers = training_loggers(opts)
            trainer = build_trainer(
                opts, self._module, self._layout, callbacks, opts.epochs, loggers
            )
            last = run_dir / "last.ckpt" if resume and run_dir else None
            _train(trainer, self._module, DataLoader(train_data, batch_size=None), val_loader, last)
        wall = time.perf_counter() - start
        if run_dir is not None and trainer.is_global_zero:  # finished: checkpoints served
            shutil.rmtree(run_dir, ignore_errors=True)
        return self._finish(trainer, best, wall, found, batch)

    def _find_batch_size(self, train: WindowStream, train_windows: int | None) -> int:
        """Lightning's batch-size finder (batch_finder.py) on a module trained from scratch
        after; this run's options take its pick."""
        found = batch_finder.find_batch_size(
            self._module,
            lambda size: self._batches(train, None, size),
            self._options,
            self._layout,
            train_windows,
        )
        self._options = replace(self._options, batch_size=found)
        return found

    def _finish(
        self,
        trainer: pl.Trainer,
        best: KeepBestWeights,
        wall: float,
        found: float | None,
        batch: int | None,
    ) -> FitResult:
        """The best epoch's weights kept, on the CPU for inference, and what the run did."""
        if best.state is not None:
            self._module.load_state_dict(best.state)
        self._module.cpu().eval()
        return FitResult(
            epochs=trainer.current_epoch,
            steps=trainer.global_step // self._module.num_optimizers,  # see build_trainer
            windows_seen=self._module.samples_seen,
            wall_s=wall,
            best_val_loss=best.best,
            log_dir=trainer.loggers[0].log_dir if trainer.loggers else None,
            learning_rate=found or self._base_rate(),
            lr_found=found is not None,
            tracking_run=run_of(trainer.loggers),
            batch_size=batch,
        )

    def _batches(
        self, train: WindowStream, sizes: Sequence[int] | None, size: int | None = None
    ) -> WindowBatches:
        """The training batches (of `size`, else the configured size), shuffled through a
        bounded buffer, reproducibly."""
        opts = self._options
        return WindowBatches(
            train,
            size or opts.batch_size,
            shuffle=True,
            seed=opts.seed,
            buffer_windows=opts.shuffle_buffer,
            sizes=sizes,
        )

    def _new_module(self, total_steps: int | None, lr: float | None = None) -> ThunderModule:
        """The architecture model_config names, its loss, the configured optimiser per parameter
        group at `lr` (else the configured rate) and the configured schedule on each, in
        ThunderModule."""
        opt = self._options.optimisation
        net = build(self._network)
        if self._start is not None:
            net.load_state_dict(self._start)
        make_optimizer = optimizer(opt.optimizer)
        rate = lr or opt.learning_rate
        optimizers = [make_optimizer(group, rate) for group in net.parameter_groups()]
        make = schedule(opt.schedule, total_steps)
        schedules = [s for s in map(make, optimizers) if s is not None]
        return ThunderModule(
            net,
            loss_for(net),
            optimizer=optimizers,
            lr_scheduler=schedules,
            gradient_clip_val=opt.gradient_clip_val,
            gradient_clip_algorithm=opt.gradient_clip_algorithm,
            accumulate_grad_batches=opt.accumulate_grad_batches,
        )

    def _solves_linear_path(self) -> bool:
        """A network whose time mixing starts in closed form (from the targets' own history),
        unless the run starts from a published model's weights."""
        net = None if self._custom or self._start is not None else self._net
        return isinstance(net, XLSTMMixerNetwork) and net.cfg.target_inputs is not None

    def _base_rate(self) -> float:
        """The first optimizer's starting rate (a user's module brings its own)."""
        if not self._custom:
            return self._options.optimisation.learning_rate
        group = self._module.trainer.optimizers[0].param_groups[0]
        return float(group.get("initial_lr", group["lr"]))

    @property
    def _net(self) -> WindowNetwork:
        net = self._module.architecture
        assert isinstance(net, WindowNetwork)  # built by _new_module
        return net

    def _total_steps(
        self, train_windows: int | None, batch_sizes: Sequence[int] | None
    ) -> int | None:
        """The schedule's length in optimiser steps (one per accumulate_grad_batches batches,
        and one for an epoch's remainder); every rank of a distributed run gets the same (its
        batch count is the same), so their learning rates never drift apart."""
        opts = self._options
        batches = math.ceil(train_windows / opts.batch_size) if train_windows else None
        if batch_sizes is not None:
            batches = len(batch_sizes)
        accumulate = opts.optimisation.accumulate_grad_batches
        per_epoch = math.ceil(batches / accumulate) if batches else None
        candidates = [s for s in (opts.max_steps, per_epoch and per_epoch * opts.epochs) if s]
        return min(candidates) if candidates else None

    def predict(self, x: FloatArray) -> Prediction:
        """Forecasts in slices (adapters/slices.py): bounded memory, every core on a large
        batch."""
        inputs = np.ascontiguousarray(x, dtype=np.float32)
        if len(inputs) == 0:
            cfg = self._network
            return Prediction.empty(cfg.future_steps, cfg.num_targets, cfg.quantiles)
        if self._traced is None:  # once per trained model; a user's network runs as it is
            module, window = self._inference_net(), torch.Size(inputs.shape[1:])
            self._traced = module if self._custom else export.traced(module, window)
        net = self._traced

        def run(part: FloatArray) -> FloatArray:
            with torch.inference_mode():  # per thread: the mode is thread-local
                out: FloatArray = net(torch.from_numpy(part)).numpy()  # [n, future, T, Q]
            return out

        out = run_sliced(inputs, run, torch.get_num_threads())
        return Prediction.from_outputs(out, self._network.quantiles)

    def as_module(self, scaling: Scaling) -> ThunderModule:
        """The trained network in a ThunderModule whose predictor takes raw windows and returns
        forecasts [B, future, T, Q] in the data's units (trainer.predict, from a notebook)."""
        x_mean, x_scale = scaling.input_mean, scaling.input_scale
        y_mean, y_scale = scaling.target_mean, scaling.target_scale
        if self._custom:
            arch = self._inference_net()  # [B, past, F] -> [B, future, T, 1]
            predictor = Standardised(x_mean, x_scale, y_mean, y_scale)
        else:
            arch = net = self._net

            def head(y: torch.Tensor) -> torch.Tensor:  # levels ascending, as served forecasts
                return net.forecast_from(y).sort(dim=-1).values  # [B, future, T, Q]

            predictor = Standardised(x_mean, x_scale, y_mean, y_scale, head=head)
        criterion = forecast_loss(self._network.quantiles)
        return ThunderModule(arch, criterion, predictor=predictor).eval()

    def _inference_net(self) -> nn.Module:
        """What forecasting runs: windows [n, past, F] -> forecasts [n, future, T, Q]."""
        if self._loaded is not None:
            return self._loaded
        if self._custom:
            return custom.PointForecast(self._module.architecture).eval()
        return Forecasting(self._net)

    def to_bytes(self) -> bytes:
        if self._program is not None:
            return checkpoint.save_program(self._network, self._program)
        if self._custom:
            program = custom.program_bytes(self._module.architecture, self._network)
            return checkpoint.save_program(self._network, program)
        return checkpoint.save(self._network, self._net.state_dict())

    def to_onnx(self, int8: bool = False) -> bytes:
        """The network as ONNX; see export.to_onnx."""
        return export.to_onnx(self._inference_net(), self._network, int8)

    @classmethod
    def from_bytes(cls, data: bytes, origin: str = "model") -> "LightningForecaster":
        def restore(network: NetworkConfig, state: dict[str, Any]) -> "LightningForecaster":
            forecaster = cls(network, TrainingOptions())
            forecaster._net.load_state_dict(state)
            forecaster._module.eval()
            return forecaster

        def restore_program(network: NetworkConfig, program: bytes) -> "LightningForecaster":
            return cls(network, TrainingOptions(), program=program)

        return checkpoint.load(data, origin, restore, restore_program)


def _refuse_for_own_module(options: TrainingOptions, module: object) -> None:
    """The training options a user's module decides itself: its optimizer (and so its rate),
    its schedulers, and its own accumulation when it optimizes manually."""
    name = type(module).__name__
    if options.find_lr:
        raise ConfigError(
            f"find_lr needs thunder's own network: {name} comes with its optimizer; set its "
            f"learning rate there",
            field="find_lr",
        )
    if options.optimisation.optimizer != OptimizerConfig():
        raise ConfigError(
            f"training_config.optimizer applies to thunder's own networks: {name} comes with "
            f"its optimizer; remove the key",
            field="training_config.optimizer",
        )
    if options.optimisation.lr_schedule != "none":
        raise ConfigError(
            f"training_config.lr_schedule applies to thunder's own networks: {name} comes with "
            f"its own schedulers (lr_scheduler=, or a thunder.policy); remove the key",
            field="training_config.lr_schedule",
        )
    k = options.optimisation.accumulate_grad_batches
    if not isinstance(module, ThunderModule) or module.automatic_optimization:
        return  # the Trainer accumulates for it
    if k != module.accumulate_grad_batches:
        raise ConfigError(
            f"training_config.accumulate_grad_batches {k}: {name} optimizes manually; pass "
            f"accumulate_grad_batches={k} to it instead",
            field="training_config.accumulate_grad_batches",
        )


def _run_dir(checkpoint_dir: str | None, run_id: str | None, resume: bool) -> Path | None:
    """This run's folder of epoch checkpoints; NothingToResume when --resume finds none."""
    run_dir = Path(checkpoint_dir) / run_id if checkpoint_dir and run_id else None
    if resume and (run_dir is None or not (run_dir / "last.ckpt").exists()):
        raise NothingToResume(
            f"no checkpoint of this data and config in {run_dir or checkpoint_dir}: a run "
            f"saves one after each epoch; start without --resume"
        )
    return run_dir


def _train(
    trainer: pl.Trainer,
    module: ThunderModule,
    train: DataLoader[Any],
    val: DataLoader[Any],
    last: Path | None,
) -> None:
    """trainer.fit, from the `last` checkpoint when resuming."""
    try:
        trainer.fit(module, train, val, ckpt_path=str(last) if last else None)
    except SystemExit:
        # Lightning turns Ctrl+C into sys.exit(1); give the caller its KeyboardInterrupt
        if trainer.interrupted:
            raise KeyboardInterrupt from None
        raise
