"""examples/quickstart.ipynb runs top to bottom, as a user opens it: from examples/, on a python3
kernel of this interpreter, with thunder as installed here. A cell that raises fails the test
with its traceback; the notebook writes only into its own temporary folder."""

import json
import os
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import ROOT

pytestmark = pytest.mark.integration

NOTEBOOK = ROOT / "examples" / "quickstart.ipynb"
CELL_TIMEOUT_S = 300  # the training cell takes ~40 s on 2 CPU cores; a hang fails, not blocks


def python3_kernel(jupyter: Path) -> None:
    """A kernel spec named python3 that runs this interpreter: a python3 spec installed
    elsewhere on the machine (another Python, without thunder) must not answer instead."""
    spec = jupyter / "kernels" / "python3"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    kernel = {"argv": argv, "display_name": "Python 3", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(kernel))


def test_the_quickstart_notebook_runs_and_plots(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    python3_kernel(tmp_path / "jupyter")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))  # searched first
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the notebook's tempfile.mkdtemp() lands here
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    for name in [k for k in os.environ if k.startswith("THUNDER_")]:
        monkeypatch.delenv(name)  # the notebook's own config, not this shell's overrides
    before = sorted(p.name for p in NOTEBOOK.parent.iterdir())

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_S,
        startup_timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},  # the kernel's working dir
    ).execute()  # raises CellExecutionError, naming the cell, on the first error

    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert any("image/png" in o.get("data", {}) for o in outputs), "the plot was not drawn"
    assert sorted(p.name for p in NOTEBOOK.parent.iterdir()) == before  # nothing left in examples/
