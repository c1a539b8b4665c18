"""thunder's optional extras (onnx, tune, mlflow, report): whether one is installed, asked
without importing it, and the one line that says how to install a missing one."""

import importlib.util
from typing import TypeVar

from thunder.domain.errors import MissingExtra

T = TypeVar("T")


def installed(*modules: str) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in modules)


def require(feature: str, extra: str, *modules: str) -> None:
    """MissingExtra naming the feature and the pip line, unless every module is installed."""
    if not installed(*modules):
        raise MissingExtra(f"{feature} needs the {extra} extra: pip install 'thunder[{extra}]'")


def if_installed(value: T, *modules: str) -> T | None:
    """`value` when every module is installed, else None (an optional step is skipped)."""
    return value if installed(*modules) else None


def check_logger(logger: str) -> None:
    """Before any data is read: the packages training_config.logger needs."""
    if logger == "tensorboard" and not installed("tensorboard"):
        raise MissingExtra(
            "training_config.logger 'tensorboard' needs tensorboard: pip install tensorboard"
        )
    if logger == "mlflow":
        require("training_config.logger 'mlflow'", "mlflow", "mlflow", "sqlalchemy", "alembic")
