"""What a training run is asked to build and how: the network's hyper-parameters (saved in every
checkpoint) and the options of the fit. Plain values, so the app layer builds them from the
settings without knowing which framework trains."""

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from thunder.domain.tuning import EpochHook

ARCHITECTURES = ("xlstm", "lstm", "lstm_attention", "tft", "xlstm_mixer")
# a user's own network (a ThunderModule handed to the Python API): saved as a traced program
CUSTOM = "custom"


@dataclass(frozen=True)
class NetworkConfig:
    num_features: int
    num_targets: int
    past_steps: int
    future_steps: int
    hidden_size: int = 64
    num_layers: int = 2
    num_heads: int = 4
    dropout: float = 0.2
    block_pattern: str = "ms"
    # positions of the targets among the input features; set when targets are fed as inputs, so
    # the window's own level and scale can be removed and restored (RevIN-style)
    target_inputs: tuple[int, ...] | None = None
    # quantile levels, ascending (0.5 among them); empty: one point forecast trained with MSE
    quantiles: tuple[float, ...] = ()
    # which network maps the window to the forecast (checkpoints without the key are xLSTM's)
    architecture: str = "xlstm"

    def as_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["target_inputs"] = list(self.target_inputs) if self.target_inputs is not None else None
        d["quantiles"] = list(self.quantiles)
        return d

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> "NetworkConfig":
        d = dict(raw)
        if d.get("target_inputs") is not None:
            d["target_inputs"] = tuple(d["target_inputs"])
        d["quantiles"] = tuple(d.get("quantiles") or ())
        d.setdefault("architecture", "xlstm")
        if d["architecture"] not in (*ARCHITECTURES, CUSTOM):
            raise ValueError(f"unknown architecture {d['architecture']!r}")
        return cls(**d)

    @property
    def outputs(self) -> int:
        """Values per (future step, target): one per quantile level, or the point forecast."""
        return max(1, len(self.quantiles))

    def blocks(self) -> str:
        """Block kinds for each layer: the pattern repeated to num_layers ('ms' -> 'msms...')."""
        return (self.block_pattern * self.num_layers)[: self.num_layers]


@dataclass(frozen=True)
class CallbackSpec:
    """A Lightning callback named in training_config.callbacks: where its class lives
    ("package.module:Class") and the keyword arguments it is built with."""

    path: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EarlyStopping:
    """Stop when val_loss has not improved by `min_delta` for `patience` epochs."""

    patience: int
    min_delta: float = 0.0


@dataclass(frozen=True)
class OptimizerConfig:
    """Which torch optimiser each parameter group gets and its settings (the rate is
    Optimisation.learning_rate). betas and eps are read by adam/adamw, momentum and nesterov by
    sgd. The default is thunder's historical AdamW (torch's weight decay 0.01)."""

    name: str = "adamw"
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    momentum: float = 0.0
    nesterov: bool = False


@dataclass(frozen=True)
class ScheduleConfig:
    """A learning-rate schedule and its parameters; each name reads its own: plateau (factor,
    patience, min_lr, per epoch on val_loss), step (step_size, gamma), cosine (warmup_steps,
    min_lr), one_cycle (max_lr, pct_start); step counts are optimiser steps."""

    name: str = "none"
    factor: float = 0.5
    patience: int = 1
    min_lr: float = 0.0
    step_size: int = 1
    gamma: float = 0.1
    warmup_steps: int = 0
    max_lr: float = 1e-2
    pct_start: float = 0.3


@dataclass(frozen=True)
class Optimisation:
    """How each step moves the weights: the base rate, the optimiser, its schedule (a name,
    "none" | "plateau" | "cosine" with `warmup_steps`, or a ScheduleConfig), the gradient clip
    (by "norm" or element "value") and the batches whose gradients one step sums."""

    learning_rate: float = 1e-3
    lr_schedule: str | ScheduleConfig = "none"
    warmup_steps: int = 0
    gradient_clip_val: float | None = None
    gradient_clip_algorithm: str = "norm"
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    accumulate_grad_batches: int = 1

    @property
    def schedule(self) -> ScheduleConfig:
        """The schedule as one value: a name alone takes the top-level warmup_steps."""
        if isinstance(self.lr_schedule, ScheduleConfig):
            return self.lr_schedule
        return ScheduleConfig(name=self.lr_schedule, warmup_steps=self.warmup_steps)


@dataclass(frozen=True)
class TrainingOptions:
    """A run stops after `epochs` or `max_steps` training steps, whichever comes first, or
    earlier by `early_stopping` (None: never)."""

    epochs: int = 10
    max_steps: int | None = None
    early_stopping: EarlyStopping | None = None
    optimisation: Optimisation = field(default_factory=Optimisation)
    batch_size: int = 32
    seed: int = 42
    accelerator: str = "auto"
    precision: str = "32"
    shuffle_buffer: int = 4096
    checkpoint_dir: str | None = None  # per-run folders of epoch checkpoints, for --resume
    log_dir: str | None = None  # CSV metrics (and TensorBoard's files when logger asks) go here
    logger: str = "csv"  # also "tensorboard" or "mlflow", besides the CSV log
    tracking_uri: str | None = None  # MLflow's store, when logger is "mlflow"
    experiment: str = "thunder"
    artifact_location: str | None = None  # where a new MLflow experiment keeps its files
    progress: bool = False
    find_lr: bool = False  # run the learning-rate range test first and train with its pick
    find_batch_size: bool = False  # run the batch-size finder first and train with its pick
    epoch_end: EpochHook | None = None  # a search's pruning hook: (epoch, val_loss) -> stop?
    callbacks: tuple[object, ...] = ()  # the user's own Lightning callbacks (Python API)
    named_callbacks: tuple[CallbackSpec, ...] = ()  # training_config.callbacks, by import path
