"""A missing optional extra is one clear error naming the pip line, raised by the adapter that
needs it before it imports anything (checked by hiding the package from the import system)."""

import importlib.util
from typing import Any

import pytest

from thunder.adapters import extras
from thunder.domain.errors import MissingExtra


@pytest.fixture
def hidden(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """Packages to pretend are not installed."""
    names: set[str] = set()
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any, **kwargs: Any) -> Any:
        return None if name.split(".")[0] in names else real(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    return names


def test_installed_and_if_installed_follow_the_import_system(hidden: set[str]) -> None:
    assert extras.installed("json", "numpy")
    assert extras.if_installed("x", "numpy") == "x"
    hidden.add("numpy")
    assert not extras.installed("json", "numpy")
    assert extras.if_installed("x", "numpy") is None


def test_serving_onnx_without_onnxruntime_names_the_extra(hidden: set[str]) -> None:
    from thunder.adapters.onnx_model import OnnxModel

    hidden.add("onnxruntime")
    with pytest.raises(MissingExtra, match=r"^serve --backend onnx needs the onnx extra: pip"):
        OnnxModel.from_bytes(b"not read", "model.onnx")


def test_tune_without_optuna_names_the_extra(hidden: set[str]) -> None:
    from thunder.adapters.optuna_search import OptunaSearch

    hidden.add("optuna")
    with pytest.raises(MissingExtra, match=r"pip install 'thunder\[tune\]'"):
        OptunaSearch("sqlite:///unused.db", "study", 0)


def test_the_mlflow_logger_without_mlflow_names_the_extra(hidden: set[str]) -> None:
    hidden.add("mlflow")
    with pytest.raises(MissingExtra, match=r"logger 'mlflow' needs the mlflow extra"):
        extras.check_logger("mlflow")
    extras.check_logger("csv")  # needs nothing
