"""`import thunder` stays cheap; its public names load on first use and type checkers see them."""

import ast
import subprocess
import sys
import tomllib

import pytest

import thunder
from tests.conftest import ROOT

HEAVY = ("torch", "pandas", "pytorch_lightning", "sklearn", "fastapi")


def _heavy_loaded_after(code: str) -> list[str]:
    """The heavy libraries a fresh interpreter holds after running `code`."""
    probe = f"import sys; {code}; print([m for m in {HEAVY!r} if m in sys.modules])"
    done = subprocess.run(
        [sys.executable, "-c", probe],
        env={"PYTHONPATH": str(ROOT / "src")},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    loaded: list[str] = ast.literal_eval(done.stdout)  # the list the probe printed
    return loaded


def test_importing_thunder_loads_no_heavy_library() -> None:
    assert _heavy_loaded_after("import thunder") == []


def test_load_config_loads_neither_torch_nor_pandas() -> None:
    assert _heavy_loaded_after("import thunder; thunder.load_config") == []


@pytest.mark.parametrize("name", [n for n in thunder.__all__ if n != "ThunderModule"])
def test_every_public_name_resolves_to_what_its_module_defines(name: str) -> None:
    value = getattr(thunder, name)
    assert value.__name__ == name
    assert name in dir(thunder)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        thunder.nope  # type: ignore[attr-defined]  # noqa: B018


def test_the_package_ships_its_type_marker() -> None:
    assert (ROOT / "src" / "thunder" / "py.typed").is_file()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "py.typed" in pyproject["tool"]["setuptools"]["package-data"]["thunder"]


def test_thunder_module_is_the_lightning_adapters_class() -> None:
    from thunder.adapters.lightning.module import ThunderModule

    assert thunder.ThunderModule is ThunderModule
