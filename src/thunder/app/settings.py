"""Settings mirroring config.json, loaded with pydantic-settings.

Sources, first wins: THUNDER_* environment variables (nested with `__`, e.g.
THUNDER_TRAINING_CONFIG__EPOCHS=1), then the JSON file, then defaults. Every problem becomes one
ConfigError naming the file and the field path.
"""

import json
import os
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    JsonConfigSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from thunder.domain.errors import ConfigError
from thunder.domain.values import Columns, WindowSpec

DEFAULT_CONFIG = "config.json"
CONFIG_ENV = "THUNDER_CONFIG"
# the JSON file the Settings being built read: pydantic-settings builds its sources in a class
# method, so the path reaches it here rather than through the process's environment
_config_file: ContextVar[str] = ContextVar("thunder_config_file", default=DEFAULT_CONFIG)
TIME_COLUMN_GUESSES = ("date", "ds", "timestamp")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


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
    lr_schedule: Literal["none", "plateau", "cosine"] = "none"
    warmup_steps: int = Field(0, ge=0, description="linear warm-up of the cosine schedule")
    gradient_clip_val: float | None = Field(None, gt=0, description="clip the gradient norm")
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


# the options each architecture reads besides num_features, hidden_size, num_layers, future_steps,
# learning_rate, dropout and quantiles (which all of them read)
ARCHITECTURE_OPTIONS = {
    "xlstm": ("num_attention_heads", "block_pattern"),
    "lstm": (),
    "lstm_attention": ("num_attention_heads",),
    "tft": ("num_attention_heads",),
}


class ModelConfig(_Strict):
    architecture: Literal["xlstm", "lstm", "lstm_attention", "tft"] = Field(
        "xlstm",
        description="xlstm, lstm (plain stacked LSTM), lstm_attention (LSTM + self-attention, "
        "Gaussian mean and variance), tft (Temporal Fusion Transformer essentials)",
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


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="THUNDER_", env_nested_delimiter="__", extra="forbid", populate_by_name=True
    )

    training_config: TrainingConfig = Field(default_factory=TrainingConfig)
    preprocessor_path: str
    model_path: str
    keep_versions: int = Field(
        5, ge=1, description="trained versions kept beside model_path (the current one included)"
    )
    # `model_config` is pydantic's own attribute, so the field has another name (see STYLE.md)
    network: ModelConfig = Field(
        validation_alias=AliasChoices("model_config", "network"), serialization_alias="model_config"
    )
    preprocessing_config: PreprocessingConfig
    serving_config: ServingConfig = Field(default_factory=ServingConfig)

    @model_validator(mode="after")
    def _consistent(self) -> "Settings":
        pre, split, net = (
            self.preprocessing_config,
            self.preprocessing_config.split_config,
            self.network,
        )
        if net.future_steps != split.future_steps:
            raise ValueError(
                f"model_config.future_steps ({net.future_steps}) must equal "
                f"preprocessing_config.split_config.future_steps ({split.future_steps})"
            )
        if split.train_ratio + split.val_ratio >= 1:
            raise ValueError(
                f"preprocessing_config.split_config: train_ratio + val_ratio "
                f"({split.train_ratio} + {split.val_ratio}) leaves no test rows; keep it below 1"
            )
        inputs = self.columns(None).inputs
        if not inputs:
            raise ValueError(
                "preprocessing_config: no input features (numerical_features is empty and "
                "use_target_as_feature is false)"
            )
        if net.num_features != len(inputs):
            raise ValueError(
                f"model_config.num_features ({net.num_features}) must equal the number of input "
                f"features ({len(inputs)}: {', '.join(inputs)})"
            )
        heads_used = "num_attention_heads" in ARCHITECTURE_OPTIONS[net.architecture]
        if heads_used and net.hidden_size % net.num_attention_heads:
            raise ValueError(
                f"model_config.hidden_size ({net.hidden_size}) must be divisible by "
                f"model_config.num_attention_heads ({net.num_attention_heads})"
            )
        if len(set(pre.target_variables)) != len(pre.target_variables):
            raise ValueError("preprocessing_config.target_variables has duplicates")
        clash = set(self.columns(None).derived) & {*pre.numerical_features, *pre.target_variables}
        if clash:
            raise ValueError(
                f"preprocessing_config: {', '.join(sorted(clash))} is the name of a calendar "
                f"feature column; rename that column in the file"
            )
        if pre.id_column is not None and pre.id_column in (*inputs, *pre.target_variables):
            raise ValueError(
                f"preprocessing_config.id_column ('{pre.id_column}') names a series, so it cannot "
                f"also be a feature or target"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = _config_file.get()
        json_source = JsonConfigSettingsSource(settings_cls, json_file=path, deep_merge=True)
        return init_settings, env_settings, json_source

    def shareable(self, **options: Any) -> dict[str, Any]:
        """The config as JSON values without its secrets (the API keys): what the model card,
        a tuned config and an experiment log keep, and GET / shows."""
        return self.model_dump(
            mode="json", by_alias=True, exclude={"serving_config": {"api_keys"}}, **options
        )

    @property
    def window(self) -> WindowSpec:
        split = self.preprocessing_config.split_config
        return WindowSpec(split.past_steps, split.future_steps)

    def columns(self, header: list[str] | None) -> Columns:
        """Input and target columns; the time column resolved against the CSV header if given."""
        pre = self.preprocessing_config
        targets = tuple(pre.target_variables)
        extra = tuple(
            c for c in pre.numerical_features if c not in targets or not pre.use_target_as_feature
        )
        inputs = (targets if pre.use_target_as_feature else ()) + tuple(dict.fromkeys(extra))
        time = pre.time_column
        if time is None and header is not None:
            time = next((c for c in TIME_COLUMN_GUESSES if c in header), None)
        calendar = tuple(dict.fromkeys(pre.calendar_features))
        cols = Columns(inputs=inputs, targets=targets, time=time, calendar=calendar)
        return Columns(inputs + cols.derived, targets, time, calendar)

    def artifact_dir(self) -> Path:
        """Where versions and the `current` pointer live: model_path's directory."""
        return Path(self.model_path).parent

    def onnx_path(self) -> str:
        """Where `thunder export --format onnx` puts the model, in the version beside model_path."""
        return str(Path(self.model_path).with_suffix(".onnx"))

    def card_path(self) -> str:
        return str(Path(self.model_path).with_suffix(".card.json"))

    def log_dir(self) -> Path:
        configured = self.training_config.log_dir
        return Path(configured) if configured else Path(self.model_path).parent / "logs"

    def checkpoint_dir(self) -> Path:
        return Path(self.model_path).parent / ".thunder-runs"

    def cache_dir(self) -> Path:
        configured = self.preprocessing_config.cache_dir
        return Path(configured) if configured else Path(self.model_path).parent / ".thunder-cache"


def config_path(path: str | None = None) -> str:
    """The config file: `path` (--config), else $THUNDER_CONFIG, else ./config.json."""
    return path or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG


def load_settings(path: str | None = None) -> Settings:
    """Read config.json (or `path`, or $THUNDER_CONFIG) plus env overrides; ConfigError on any problem."""
    file = config_path(path)
    try:
        raw = Path(file).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{file}: config file not found (pass --config or set THUNDER_CONFIG)"
        ) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{file}: cannot read config ({e})") from None
    try:
        if not isinstance(json.loads(raw), dict):
            raise ConfigError(f"{file}: the config must be a JSON object")
    except json.JSONDecodeError as e:
        raise ConfigError(
            f"{file}: invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}"
        ) from None
    token = _config_file.set(file)
    try:
        return Settings()
    except ValidationError as e:
        raise ConfigError(f"{file}: {_describe(e)}", field=_loc(e.errors()[0])) from None
    finally:
        _config_file.reset(token)


def _loc(error: Any) -> str:
    parts = [str(p) for p in error.get("loc", ())]
    return ".".join("model_config" if p == "network" else p for p in parts)


def _describe(e: ValidationError) -> str:
    unknown = [_loc(err) for err in e.errors() if err["type"] == "extra_forbidden"]
    if len(unknown) > 1:  # name every misspelt key at once, not one per run
        rest = e.error_count() - len(unknown)
        more = f" (and {rest} more problem(s))" if rest else ""
        return (
            f"unknown keys {', '.join(unknown)} (check the spelling against "
            f"docs/configuration.md){more}"
        )
    first = e.errors()[0]
    loc = _loc(first)
    msg = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        msg = "unknown key (check the spelling against docs/configuration.md)"
    more = f" (and {e.error_count() - 1} more problem(s))" if e.error_count() > 1 else ""
    return f"{loc}: {msg}{more}" if loc else f"{msg}{more}"
