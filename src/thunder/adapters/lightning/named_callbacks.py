"""The callbacks training_config.callbacks names: imported by path and built with their keyword
arguments when the forecaster is made, so a typo fails before any data is read."""

import importlib
from collections.abc import Sequence

import pytorch_lightning as pl

from thunder.adapters.messages import first_line
from thunder.domain.errors import ConfigError
from thunder.domain.training import CallbackSpec


def built_callbacks(specs: Sequence[CallbackSpec]) -> list[pl.Callback]:
    return [_built(spec, f"training_config.callbacks[{i}]") for i, spec in enumerate(specs)]


def _built(spec: CallbackSpec, where: str) -> pl.Callback:
    cls = _imported(spec.path, where)
    if not (isinstance(cls, type) and issubclass(cls, pl.Callback)):
        raise ConfigError(
            f"{where}: {spec.path} is not a pytorch_lightning Callback (thunder trains with "
            f"pytorch_lightning; a callback of the `lightning` package does not fit)",
            field=where,
        )
    try:
        return cls(**spec.kwargs)
    except Exception as e:  # the user's constructor: whatever it raises, one line naming it
        raise ConfigError(
            f"{where}: {spec.path}(**init_args) failed: {type(e).__name__}: {first_line(e)}",
            field=where,
        ) from None


def _imported(path: str, where: str) -> object:
    module_name, _, name = path.partition(":") if ":" in path else path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except Exception as e:  # ImportError, or whatever the module raises as it loads
        raise ConfigError(
            f"{where}: cannot import {module_name} for {path} ({first_line(e)})", field=where
        ) from None
    if not hasattr(module, name):
        raise ConfigError(f"{where}: {module_name} has no {name}", field=where)
    return getattr(module, name)
