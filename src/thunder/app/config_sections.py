"""The sections of config.json (training_config, model_config, preprocessing_config with its
split_config, serving_config), each a strict pydantic model: a misspelt key is an error that
names it. app/settings.py puts them together and checks them against each other."""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from thunder.app.optimisation_sections import AdamWOptions, LRSchedule, OptimizerOptions

TIME_COLUMN_GUESSES = ("date", "ds", "timestamp")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# "package.module:Class" (or "package.module.Class", as LightningCLI writes it)
CALLBACK_PATH = r"^[A-Za-z_][\w.]*[:.][A-Za-z_]\w*$"
CallbackPath = Annotated[str, Field(pattern=CALLBACK_PATH)]


class CallbackEntry(_Strict):
    """A callback built with keyword arguments (LightningCLI's shape)."""

    class_path: CallbackPath
    init_args: dict[str, Any] = {}


class TrainingConfig(_Strict):
    epochs: int = Field(10, ge=1)
    max_steps: int | None = Field(None, ge=1, description="cap on optimizer steps")
    seed: int = 42
    accelerator: str = "auto"
    devices: int | Literal["auto"] = Field(
        "auto",
        description="processes on this machine (one per GPU, or CPU processes); more than 1 "
        "trains data-parallel with DDP. auto: 1, or every GPU with strategy ddp",
    )
    strategy: Literal["auto", "ddp"] = Field(
        "auto", description="ddp: data-parallel over devices x num_nodes processes"
    )
    num_nodes: int = Field(1, ge=1, description="machines; each is started by torchrun or srun")
    precision: Literal["32", "16-mixed", "bf16-mixed"] = "32"
    shuffle_buffer: int = Field(
        4096, ge=1, description="train windows shuffled together; bounds the shuffle's memory"
    )
    early_stopping_patience: int | None = Field(
        None, ge=1, description="stop after this many epochs without a better val_loss"
    )
    early_stopping_min_delta: float = Field(0.0, ge=0, description="smaller gains do not count")
    lr_schedule: LRSchedule = Field(
        "none",
        description='"none", "plateau", "cosine", or an object {"name": ...} with the '
        "schedule's parameters (plateau, step, cosine, one_cycle)",
    )
    warmup_steps: int = Field(0, ge=0, description='linear warm-up of lr_schedule "cosine"')
    gradient_clip_val: float | None = Field(None, gt=0, description="clip the gradients")
    gradient_clip_algorithm: Literal["norm", "value"] = Field(
        "norm", description="clip each optimizer's gradient norm, or each gradient element"
    )
    accumulate_grad_batches: int = Field(
        1, ge=1, description="batches whose gradients are summed into one optimizer step"
    )
    optimizer: OptimizerOptions = Field(
        default_factory=AdamWOptions, description="adamw, adam or sgd and their settings"
    )
    log_dir: str | None = Field(None, description="training logs; default: logs/ beside the model")
    logger: Literal["csv", "tensorboard", "mlflow"] = Field(
        "csv",
        description="where per-epoch metrics go besides the CSV log: tensorboard (needs "
        "tensorboard) or mlflow (needs the mlflow extra; the run also gets the config, the final "
        "report and the artifacts)",
    )
    mlflow_tracking_uri: str | None = Field(
        None,
        description="default: $MLFLOW_TRACKING_URI, else sqlite:///<model dir>/mlruns.db",
    )
    experiment: str = Field("thunder", min_length=1, description="the MLflow experiment name")
    callbacks: list[CallbackPath | CallbackEntry] = Field(
        [],
        description='Lightning callbacks added to the run: "package.module:Class", or '
        '{"class_path": ..., "init_args": {...}} to build it with keyword arguments',
    )

    @model_validator(mode="after")
    def _one_warmup(self) -> "TrainingConfig":
        """The object form carries its own warm-up: a second one beside it would be ignored."""
        if not isinstance(self.lr_schedule, str) and self.warmup_steps:
            raise ValueError(
                "warmup_steps goes inside the lr_schedule object "
                '({"name": "cosine", "warmup_steps": N}) when lr_schedule is one'
            )
        return self

    @model_validator(mode="after")
    def _clip_by_value_needs_the_value(self) -> "TrainingConfig":
        if self.gradient_clip_algorithm == "value" and self.gradient_clip_val is None:
            raise ValueError(
                'gradient_clip_algorithm "value" clips to gradient_clip_val: set it too'
            )
        return self


# the options each architecture reads besides num_features, hidden_size, num_layers, future_steps,
# learning_rate, dropout and quantiles (which all of them read)
ARCHITECTURE_OPTIONS = {
    "xlstm": ("num_attention_heads", "block_pattern"),
    "lstm": (),
    "lstm_attention": ("num_attention_heads",),
    "tft": ("num_attention_heads",),
    "xlstm_mixer": ("num_attention_heads",),
}


class ModelConfig(_Strict):
    architecture: Literal["xlstm", "lstm", "lstm_attention", "tft", "xlstm_mixer"] = Field(
        "xlstm",
        description="xlstm, lstm (plain stacked LSTM), lstm_attention (LSTM + self-attention, "
        "Gaussian mean and variance), tft (Temporal Fusion Transformer essentials), "
        "xlstm_mixer (a closed-form linear forecast over time refined by sLSTM blocks over "
        "the variates: long contexts and horizons)",
    )
    num_features: int = Field(ge=1)
    hidden_size: int = Field(64, ge=1)
    num_layers: int = Field(2, ge=1)
    future_steps: int = Field(ge=1)
    learning_rate: float = Field(1e-3, gt=0)
    dropout: float = Field(0.2, ge=0, lt=1)
    num_attention_heads: int = Field(4, ge=1)
    block_pattern: str = Field("ms", pattern=r"^[ms]+$", description="m = mLSTM, s = sLSTM")
    quantiles: list[float] | None = Field(
        None,
        min_length=1,
        max_length=99,
        description="quantile levels in (0, 1) to forecast with pinball loss, e.g. [0.1, 0.9]; "
        "the median (0.5) is always added and is the point forecast",
    )

    @field_validator("quantiles")
    @classmethod
    def _levels(cls, levels: list[float] | None) -> list[float] | None:
        if levels is None:
            return None
        outside = [q for q in levels if not 0 < q < 1]
        if outside:
            raise ValueError(f"quantile levels must lie strictly between 0 and 1, got {outside}")
        return sorted({round(q, 6) for q in levels} | {0.5})

    @field_validator("num_attention_heads", "block_pattern")
    @classmethod
    def _applies(cls, value: Any, info: ValidationInfo) -> Any:
        """An option the architecture does not read must keep its default: a changed value would
        be silently ignored otherwise (defaults pass, so a dumped config loads back)."""
        arch = info.data.get("architecture", "xlstm")
        name = str(info.field_name)
        if name not in ARCHITECTURE_OPTIONS[arch] and value != cls.model_fields[name].default:
            users = ", ".join(a for a, used in ARCHITECTURE_OPTIONS.items() if name in used)
            raise ValueError(
                f"does not apply to architecture '{arch}' (only to {users}); remove it"
            )
        return value


class SplitConfig(_Strict):
    past_steps: int = Field(ge=1)
    future_steps: int = Field(ge=1)
    train_ratio: float = Field(0.7, gt=0, lt=1)
    val_ratio: float = Field(0.15, ge=0, lt=1)
    batch_size: int = Field(32, ge=1)
    eval_stride: int = Field(
        1, ge=1, description="val/test windows start every eval_stride rows (1: every row)"
    )


class PreprocessingConfig(_Strict):
    numerical_features: list[str] = []
    target_variables: list[str] = Field(min_length=1)
    use_target_as_feature: bool = True
    time_column: str | None = None
    id_column: str | None = Field(None, description="series id column of a long-format file")
    missing: Literal["error", "ffill", "drop"] = "error"
    calendar_features: list[Literal["hour", "day_of_week", "day_of_year", "month"]] = Field(
        [],
        description="inputs derived from the time column, each as a sin/cos pair "
        "(<name>_sin, <name>_cos); count them in model_config.num_features",
    )
    season_length: int | None = Field(
        None,
        ge=1,
        description="rows per season for the seasonal-naive baseline; default from "
        "the time step (hourly 24, daily 7, ...)",
    )
    cache: bool = Field(True, description="keep checked rows as float32 for passes after the first")
    cache_dir: str | None = Field(None, description="default: .thunder-cache beside the model")
    split_config: SplitConfig


class ServingConfig(_Strict):
    max_body_bytes: int = Field(1 << 20, ge=1024, description="larger request bodies get 413")
    max_series_per_request: int = Field(1000, ge=1, description="cap of POST /predict/batch")
    backend: Literal["auto", "torch", "onnx"] = Field(
        "auto",
        description="runs the model: the ONNX export on onnxruntime, or torch (TorchScript); "
        "auto: ONNX when the version has it and onnxruntime is installed, else torch",
    )
    api_keys: list[Annotated[str, Field(min_length=16)]] = Field(
        [],
        description="when any is set, /predict and /predict/batch need one of them "
        "(THUNDER_API_KEYS, comma-separated, replaces the list)",
    )
