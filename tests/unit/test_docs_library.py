"""docs/library.md's examples run as written.

Every ```python block of the page has a marker on the line before it:
- `<!-- test -->`: executed here, in a fresh namespace where the page's setup blocks ran first;
- `<!-- test: setup -->`: the shared data, network and trainer those blocks use;
- `<!-- test: demo -->`: executed in a folder holding a tiny config.json (the README config,
  shrunk as the integration tests shrink it) and examples/climate-data.csv, as if run from the
  repository root;
- `<!-- not run: WHY -->`: not executed here; WHY says what covers it (the quickstart's calls
  run in examples/quickstart.ipynb, executed by tests/integration/test_notebook.py).
A block without a marker fails the test, so no example is left untested by accident.
"""

import json
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DEMO_CSV, ROOT, small_config

PAGE = ROOT / "docs" / "library.md"
MARKER = re.compile(r"^<!-- (test|test: setup|test: demo|not run: .+) -->$")


@dataclass(frozen=True)
class Block:
    kind: str  # "test", "test: setup", "test: demo" or "not run: ..."
    heading: str
    line: int  # of the opening fence, 1-based
    code: str


def blocks(text: str) -> list[Block]:
    """The page's ```python blocks with the marker on the line before each (or "")."""
    found, heading, lines = [], "", text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        if line.strip() == "```python":
            end = lines.index("```", i + 1)
            marker = MARKER.match(lines[i - 1].strip()) if i else None
            kind = marker.group(1) if marker else ""
            found.append(Block(kind, heading, i + 1, "\n".join(lines[i + 1 : end])))
            i = end
        i += 1
    return found


BLOCKS = blocks(PAGE.read_text())
SETUP = [b for b in BLOCKS if b.kind == "test: setup"]


def run(block: Block, namespace: dict[str, Any]) -> None:
    code = compile(block.code, f"{PAGE}:{block.line}", "exec")  # tracebacks name the page line
    exec(code, namespace)


def test_every_python_block_is_marked_run_or_not() -> None:
    unmarked = [f"line {b.line} ({b.heading})" for b in BLOCKS if not b.kind]
    assert not unmarked, f"docs/library.md: python blocks without a marker: {unmarked}"
    assert SETUP and any(b.kind == "test" for b in BLOCKS)


@pytest.fixture
def quiet_lightning() -> Any:
    """The examples train on a few hundred windows in one process: Lightning's advice about
    loader workers and its device banner are noise here, not a finding."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*does not have many workers.*")
        warnings.filterwarnings("ignore", ".*number of training batches.*")
        yield


@pytest.mark.usefixtures("quiet_lightning")
@pytest.mark.parametrize(
    "block",
    [b for b in BLOCKS if b.kind == "test"],
    ids=lambda b: f"{b.line}-{b.heading}",
)
def test_the_example_runs(block: Block) -> None:
    namespace: dict[str, Any] = {"__name__": "docs_library"}
    for setup in SETUP:
        run(setup, namespace)
    run(block, namespace)


@pytest.mark.usefixtures("quiet_lightning")
@pytest.mark.parametrize(
    "block",
    [b for b in BLOCKS if b.kind == "test: demo"],
    ids=lambda b: f"{b.line}-{b.heading}",
)
def test_the_demo_example_runs_from_a_checkout(
    block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / DEMO_CSV.name).symlink_to(DEMO_CSV)
    # two short epochs, so that the examples' callbacks see validation run (max_steps would stop
    # the run before the first epoch's end)
    config = small_config(tmp_path, training_config={"epochs": 2})
    (tmp_path / "config.json").write_text(json.dumps(config))
    for name in [k for k in os.environ if k.startswith("THUNDER_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    run(block, {"__name__": "docs_library"})
