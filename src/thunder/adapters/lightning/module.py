"""ThunderModule: the one LightningModule. Any architecture (a plain nn.Module), a criterion,
optimizers and schedulers passed as instances, a predictor, metrics; the steps most training
pipelines write by hand, written once.

- training: `x, y = batch`, criterion(architecture(x), y) logged as train_loss;
- validation, test, predict: one `inference_step` runs the predictor around the forward pass
  (predictor.invert(architecture(predictor.prepare(x)))) and logs the criterion and each metric
  as weighted means over the epoch (summed over the ranks of a distributed run);
- `configure_optimizers` returns what was passed, in Lightning's form; thunder.policy policies
  are bound to their optimizers here, so they can be written before the optimizers exist;
- several optimizers switch to manual optimization: one backward, each optimizer's gradients
  clipped (`gradient_clip_val`, by `gradient_clip_algorithm`) and stepped, step-interval
  schedulers stepped per optimizer step and the others per epoch; with
  `accumulate_grad_batches` k the gradients of k batches (each loss scaled by 1/k) make one step,
  as Lightning's Trainer does under automatic optimization (which it refuses under manual). A
  subclass overrides `training_step` to drive them differently.

Inference batches stay where the loader put them: `inference_step` moves the network's inputs
only, so a large predict batch (or its targets) does not land on the accelerator whole.
"""

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import pytorch_lightning as pl
import torch
from torch import Tensor, nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler, ReduceLROnPlateau
from torchmetrics import MeanMetric
from torchmetrics import Metric as TorchMetric

from thunder.adapters.lightning.predictors import Identity, Predictor
from thunder.domain.errors import ConfigError, InvalidArgument

Criterion = Callable[[Tensor, Tensor], Tensor]
Metric = Callable[[Tensor, Tensor], Tensor | float]


@runtime_checkable
class Unbound(Protocol):
    """A thunder.policy policy: a scheduler written without its optimizer."""

    interval: str

    def bind(self, optimizer: Optimizer) -> LRScheduler: ...


Scheduler = LRScheduler | ReduceLROnPlateau | Unbound | Mapping[str, Any]
_SCHEDULER_TYPES = (LRScheduler, ReduceLROnPlateau, Unbound, Mapping)


class ThunderModule(pl.LightningModule):
    def __init__(
        self,
        architecture: nn.Module,
        criterion: Criterion,
        optimizer: Optimizer | Sequence[Optimizer] | None = None,
        lr_scheduler: Scheduler | Sequence[Scheduler] | None = None,
        predictor: Predictor | None = None,
        metrics: Mapping[str, Metric] | None = None,
        *,
        gradient_clip_val: float | None = None,
        gradient_clip_algorithm: str = "norm",
        accumulate_grad_batches: int = 1,
    ) -> None:
        """`architecture` maps a batch's inputs to predictions; `criterion(prediction, target)`
        is the loss. `optimizer`: one or a list; omitted, the optimizers of the torch schedulers
        given are used. `lr_scheduler`: a torch scheduler, a thunder.policy policy, a Lightning
        scheduler dict ({"scheduler", "interval", "monitor", ...}), or a list of them (one per
        optimizer, or all on the one optimizer). `predictor` (default identity) runs around the
        network at validation, test and predict. `metrics`: name -> callable(prediction, target),
        logged as `<stage>_<name>`. `gradient_clip_val`: the norm ("norm") or the largest
        element ("value", `gradient_clip_algorithm`) each optimizer's gradients are clipped to,
        and `accumulate_grad_batches`: the batches one step sums, under manual optimization
        (automatic optimization clips and accumulates in the Trainer)."""
        super().__init__()
        _check(architecture, criterion, predictor, metrics, gradient_clip_val)
        _check_stepping(gradient_clip_algorithm, accumulate_grad_batches)
        self.architecture = architecture
        self.criterion = criterion
        self.predictor: Predictor = predictor if predictor is not None else Identity()
        self.metrics = dict(metrics or {})
        # metrics that are modules (torchmetrics) move with the module to its device
        self._metric_modules = nn.ModuleList(
            m for m in self.metrics.values() if isinstance(m, nn.Module)
        )
        self.gradient_clip_val = gradient_clip_val
        self.gradient_clip_algorithm = gradient_clip_algorithm
        self.accumulate_grad_batches = accumulate_grad_batches
        self._accumulated = 0  # batches whose gradients wait for the next manual step
        self._schedulers = _as_list(lr_scheduler, "lr_scheduler")
        self._optimizers = _as_list(optimizer, "optimizer") or _optimizers_of(self._schedulers)
        self._means = nn.ModuleDict()  # (stage, name, loader) -> MeanMetric, made on first use
        self.samples_seen = 0
        if len(self._optimizers) > 1 and _default_optimization(type(self)):
            self.automatic_optimization = False

    @property
    def num_optimizers(self) -> int:
        return len(self._optimizers)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.architecture(x)
        return out

    def on_fit_start(self) -> None:
        self.samples_seen = 0  # this fit's windows, when one module trains twice
        self._accumulated = 0

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        x, y = batch
        loss = self.criterion(self(x), y)
        self.samples_seen += len(x)
        self.log("train_loss", loss, prog_bar=True, batch_size=len(x))
        if not self.automatic_optimization:
            self._manual_step(loss)
        return loss

    def validation_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> Tensor:
        return self.inference_step(batch, "val", dataloader_idx)

    def test_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> Tensor:
        return self.inference_step(batch, "test", dataloader_idx)

    def predict_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> Tensor:
        return self.inference_step(batch, "predict", dataloader_idx)

    def inference_step(self, batch: Any, stage: str, dataloader_idx: int = 0) -> Tensor:
        """The predictor around the forward pass; with a target (and outside predict), the
        criterion and each metric logged as `<stage>_loss` and `<stage>_<name>`."""
        x, y = _inputs_and_target(batch)
        prediction = self.predictor.invert(self(self.predictor.prepare(x).to(self.device)))
        if y is None or stage == "predict":  # Lightning logs nothing from predict_step
            return prediction
        y = y.to(prediction.device)
        self._log_mean(stage, "loss", self.criterion(prediction, y), len(x), dataloader_idx)
        for name, metric in self.metrics.items():
            if isinstance(metric, TorchMetric):  # it keeps its own state: Lightning computes it
                with torch.inference_mode():  # as the running means below, for the same reason
                    metric.update(prediction, y)
                self.log(f"{stage}_{name}", metric, on_epoch=True, metric_attribute=self._at(name))
            else:
                self._log_mean(stage, name, metric(prediction, y), len(x), dataloader_idx)
        return prediction

    def _at(self, name: str) -> str:
        """Where a torchmetrics metric sits among the module's attributes."""
        index = [n for n, m in self.metrics.items() if isinstance(m, nn.Module)].index(name)
        return f"_metric_modules.{index}"

    def transfer_batch_to_device(
        self, batch: Any, device: torch.device, dataloader_idx: int
    ) -> Any:
        if self._trainer is None or self.trainer.training:
            return super().transfer_batch_to_device(batch, device, dataloader_idx)
        return batch  # inference_step moves the network's inputs itself

    def configure_optimizers(self) -> Any:
        if not self._optimizers:
            raise ConfigError(
                "ThunderModule has no optimizer: pass optimizer=, or a torch lr_scheduler "
                "built on one",
                field="optimizer",
            )
        configs = _bound(self._schedulers, self._optimizers)
        if self.automatic_optimization and len(self._optimizers) == 1 and len(configs) <= 1:
            opt = self._optimizers[0]
            return {"optimizer": opt, "lr_scheduler": configs[0]} if configs else opt
        return list(self._optimizers), configs

    def _manual_step(self, loss: Tensor) -> None:
        optimizers = _listed(self.optimizers())
        if self._accumulated == 0:
            for opt in optimizers:
                opt.zero_grad()
        # scaled so that k batches sum to their mean gradient, as Lightning's accumulation does
        self.manual_backward(loss / self.accumulate_grad_batches)
        self._accumulated += 1
        last = self.trainer.fit_loop.epoch_loop.batch_progress.is_last_batch
        if self._accumulated < self.accumulate_grad_batches and not last:
            return
        self._accumulated = 0
        for opt in optimizers:
            if self.gradient_clip_val is not None:  # per optimizer: each its own norm, or elements
                algorithm = self.gradient_clip_algorithm
                self.clip_gradients(opt, self.gradient_clip_val, gradient_clip_algorithm=algorithm)
            opt.step()
        for config in self.trainer.lr_scheduler_configs:
            scheduler = config.scheduler
            if config.interval == "step" and not isinstance(scheduler, ReduceLROnPlateau):
                scheduler.step()

    def on_train_epoch_end(self) -> None:
        """Manual optimization steps the epoch-interval schedulers itself, after the epoch's
        validation (a plateau schedule with the metric it monitors)."""
        if self.automatic_optimization:
            return
        for config in self.trainer.lr_scheduler_configs:
            scheduler = config.scheduler
            if config.interval != "epoch":
                continue
            if not isinstance(scheduler, ReduceLROnPlateau):
                scheduler.step()
                continue
            value = self.trainer.callback_metrics.get(config.monitor or "val_loss")
            if value is not None:
                scheduler.step(float(value))

    def _log_mean(self, stage: str, name: str, value: Tensor | float, n: int, loader: int) -> None:
        key = f"{stage}_{name}_{loader}"
        if key not in self._means:
            self._means[key] = MeanMetric().to(self.device)
        mean = self._means[key]
        assert isinstance(mean, MeanMetric)
        # always in inference mode: trainer.validate() runs in it and leaves inference tensors
        # in the state, which fit's validation (run under no_grad) could not update in place
        with torch.inference_mode():
            mean.update(torch.as_tensor(value, dtype=torch.float32), weight=n)
        label, attribute = f"{stage}_{name}", f"_means.{key}"
        self.log(label, mean, prog_bar=name == "loss", on_epoch=True, metric_attribute=attribute)


def _check(
    architecture: object,
    criterion: object,
    predictor: object,
    metrics: object,
    clip: object,
) -> None:
    """The wrong thing passed is one line naming the argument, not a traceback at fit time."""
    if metrics is not None and not isinstance(metrics, Mapping):
        raise InvalidArgument(
            f"metrics must map names to callables, got {type(metrics).__name__}", field="metrics"
        )
    if clip is not None and (isinstance(clip, bool) or not isinstance(clip, int | float)):
        raise InvalidArgument(
            f"gradient_clip_val must be a number, got {type(clip).__name__}",
            field="gradient_clip_val",
        )
    if not isinstance(architecture, nn.Module):
        raise InvalidArgument(
            f"architecture must be a torch.nn.Module, got {type(architecture).__name__}",
            field="architecture",
        )
    if not callable(criterion):
        raise InvalidArgument(
            f"criterion must be callable (prediction, target) -> loss, got "
            f"{type(criterion).__name__}",
            field="criterion",
        )
    if predictor is not None and not isinstance(predictor, Predictor):
        raise InvalidArgument(
            f"predictor must have prepare(x) and invert(y), got {type(predictor).__name__}",
            field="predictor",
        )
    for name, metric in (metrics or {}).items():
        if not callable(metric):
            raise InvalidArgument(f"metric {name!r} is not callable", field=f"metrics.{name}")


def _check_stepping(algorithm: object, accumulate: object) -> None:
    if algorithm not in ("norm", "value"):
        raise InvalidArgument(
            f"gradient_clip_algorithm must be 'norm' or 'value', got {algorithm!r}",
            field="gradient_clip_algorithm",
        )
    if isinstance(accumulate, bool) or not isinstance(accumulate, int) or accumulate < 1:
        raise InvalidArgument(
            f"accumulate_grad_batches must be an int >= 1, got {accumulate!r}",
            field="accumulate_grad_batches",
        )


def _as_list(value: Any, field: str) -> list[Any]:
    if value is None:
        return []
    items = list(value) if isinstance(value, list | tuple) else [value]
    for item in items:
        if field == "optimizer" and not isinstance(item, Optimizer):
            raise InvalidArgument(
                f"optimizer must be a torch.optim.Optimizer, got {type(item).__name__}",
                field=field,
            )
        if field == "lr_scheduler" and isinstance(item, Mapping) and "scheduler" not in item:
            raise InvalidArgument(
                "a Lightning scheduler dict needs a 'scheduler' key", field="lr_scheduler"
            )
        if field == "lr_scheduler" and not isinstance(item, _SCHEDULER_TYPES):
            raise InvalidArgument(
                f"lr_scheduler must be a torch scheduler, a thunder.policy policy or a "
                f"Lightning scheduler dict, got {type(item).__name__}",
                field=field,
            )
    return items


def _optimizers_of(schedulers: Sequence[Scheduler]) -> list[Optimizer]:
    """The optimizers the given torch schedulers were built on, in order, once each."""
    found: list[Optimizer] = []
    for s in schedulers:
        inner = s.get("scheduler") if isinstance(s, Mapping) else s
        opt = getattr(inner, "optimizer", None)
        if isinstance(opt, Optimizer) and all(opt is not f for f in found):
            found.append(opt)
    return found


def _bound(schedulers: Sequence[Scheduler], optimizers: Sequence[Optimizer]) -> list[Any]:
    """Lightning scheduler configs; policies bound to their optimizer: pairwise when there are
    as many as optimizers, else all to the one optimizer."""
    pairwise = len(schedulers) == len(optimizers)
    if not pairwise and len(optimizers) > 1 and any(_unbound(s) for s in schedulers):
        raise ConfigError(
            f"{len(schedulers)} lr_scheduler(s) for {len(optimizers)} optimizers: give one "
            f"policy per optimizer, or bind each policy yourself",
            field="lr_scheduler",
        )
    configs = []
    for i, s in enumerate(schedulers):
        opt = optimizers[i if pairwise else 0]
        configs.append(_config(s, opt))
    return configs


def _unbound(s: Scheduler) -> bool:
    """A policy not bound to an optimizer yet (torch schedulers are bound when built)."""
    inner = s.get("scheduler") if isinstance(s, Mapping) else s
    bind = getattr(inner, "bind", None)
    return callable(bind) and not isinstance(getattr(inner, "optimizer", None), Optimizer)


def _config(s: Scheduler, opt: Optimizer) -> Any:
    """Lightning's scheduler dict: a policy's own interval, a plateau's monitored val_loss."""
    if isinstance(s, Mapping):
        inner = s["scheduler"]
        # a policy's own interval unless the dict names one (Lightning would default to epoch)
        own = {"interval": inner.interval} if isinstance(inner, Unbound) else {}
        return {**own, **s, "scheduler": inner.bind(opt) if _unbound(inner) else inner}
    scheduler = s.bind(opt) if _unbound(s) else s  # type: ignore[union-attr]
    config: dict[str, Any] = {"scheduler": scheduler, "interval": getattr(s, "interval", "epoch")}
    if isinstance(scheduler, ReduceLROnPlateau):
        config["monitor"] = "val_loss"
    return config


def _default_optimization(cls: type) -> bool:
    """True unless a subclass set automatic_optimization itself."""
    return isinstance(inspect.getattr_static(cls, "automatic_optimization"), property)


def _inputs_and_target(batch: Any) -> tuple[Tensor, Tensor | None]:
    """(x, y) batches, or inputs alone (a predict loader)."""
    if isinstance(batch, list | tuple):
        if len(batch) == 2:
            return batch[0], batch[1]
        if len(batch) == 1:
            return batch[0], None
    return batch, None


def _listed(items: Any) -> list[Any]:
    if items is None:
        return []
    return list(items) if isinstance(items, list) else [items]
