"""The settings a Python call runs with (the same config.json and THUNDER_* overrides as the
CLI), and the check of its other plain arguments.

No pandas and no torch here: `thunder.load_config` stays as quick as `thunder --help`.
"""

import os

from thunder.app.settings import Settings, load_settings
from thunder.domain.errors import InvalidArgument

ConfigLike = str | os.PathLike[str] | Settings | None


def load_config(path: str | os.PathLike[str] | None = None) -> Settings:
    """Read a config as `thunder chunk --config` does: `path`, else $THUNDER_CONFIG, else
    ./config.json, with THUNDER_* environment variables overriding its keys (e.g.
    THUNDER_TRAINING_CONFIG__EPOCHS=1).

    Raises:
        ConfigError: the file is missing, is not JSON, or a key is unknown or out of range; the
            message names the file and the key.
    """
    if path is not None and not isinstance(path, str | os.PathLike):
        raise InvalidArgument(
            f"config: expected the path of a config.json, got {type(path).__name__}",
            field="config",
        )
    return load_settings(None if path is None else os.fspath(path))


def settings_of(config: ConfigLike) -> Settings:
    """A config as the API takes it: settings already loaded, a path, or None (the CLI's own
    lookup: $THUNDER_CONFIG, else ./config.json)."""
    if isinstance(config, Settings):
        return config
    if config is None or isinstance(config, str | os.PathLike):
        return load_config(config)
    raise InvalidArgument(
        f"config: expected a path to a config.json or the Settings thunder.load_config "
        f"returns, got {type(config).__name__}",
        field="config",
    )


def positive(value: object, name: str) -> int:
    """An argument that counts rows: an int of at least 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidArgument(f"{name}: expected a whole number of rows >= 1, got {value!r}")
    return value
