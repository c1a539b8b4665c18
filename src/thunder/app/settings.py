"""Settings mirroring config.json, loaded with pydantic-settings.

Sources, first wins: THUNDER_* environment variables (nested with `__`, e.g.
THUNDER_TRAINING_CONFIG__EPOCHS=1), then the JSON file, then defaults. Every problem becomes one
ConfigError naming the file and the field path. The sections are in app/config_sections.py.
"""

import json
import os
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    JsonConfigSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from thunder.app.config_sections import (
    ARCHITECTURE_OPTIONS,
    TIME_COLUMN_GUESSES,
    ModelConfig,
    PreprocessingConfig,
    ServingConfig,
    TrainingConfig,
)
from thunder.domain.errors import ConfigError
from thunder.domain.values import Columns, WindowSpec

DEFAULT_CONFIG = "config.json"
CONFIG_ENV = "THUNDER_CONFIG"
# the JSON file the Settings being built read: pydantic-settings builds its sources in a class
# method, so the path reaches it here rather than through the process's environment
_config_file: ContextVar[str | None] = ContextVar("thunder_config_file", default=None)


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
    def _window_and_split(self) -> "Settings":
        split, net = self.preprocessing_config.split_config, self.network
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
        return self

    @model_validator(mode="after")
    def _network_inputs(self) -> "Settings":
        net, inputs = self.network, self.columns(None).inputs
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
        return self

    @model_validator(mode="after")
    def _column_names(self) -> "Settings":
        pre, cols = self.preprocessing_config, self.columns(None)
        if len(set(pre.target_variables)) != len(pre.target_variables):
            raise ValueError("preprocessing_config.target_variables has duplicates")
        clash = set(cols.derived) & {*pre.numerical_features, *pre.target_variables}
        if clash:
            raise ValueError(
                f"preprocessing_config: {', '.join(sorted(clash))} is the name of a calendar "
                f"feature column; rename that column in the file"
            )
        if pre.id_column is not None and pre.id_column in (*cols.inputs, *pre.target_variables):
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
        path = _config_file.get() or config_path()  # a bare Settings(): $THUNDER_CONFIG
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
