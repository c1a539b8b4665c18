"""Bad input at the command line, one case a row: the real CLI in its own process.

Every case must end in a non-zero exit and exactly one line on stderr, the line below (it names
the file, row, column or field), no traceback, and leave the model trained before it exactly as
it was: every file, directory and symlink under its directories, compared byte for byte.
docs/reliability.md shows the same table. Each case runs in its own directory with relative
paths, so the lines read as a user would see them.
"""

import gzip
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DEMO_CSV, small_config
from tests.integration.conftest import thunder

pytestmark = pytest.mark.integration

# the chunk arguments of every case, unless the case gives its own
CHUNK = ("chunk", "--input", "data.csv", "--size", "10", "--config", "config.json")


def days(n: int, first: int = 0) -> str:
    """n CSV rows of daily data (date, meantemp) from 2020-01-01 + `first` days."""
    start = date(2020, 1, 1).toordinal() + first
    return "".join(f"{date.fromordinal(start + i)},{i % 7}\n" for i in range(n))


GOOD = "date,meantemp\n" + days(100)


def row_41(cells: str) -> str:
    """40 good rows, then `cells` as data row 41, then 10 more good rows."""
    return "date,meantemp\n" + days(40) + cells + "\n" + days(10, first=41)


@dataclass(frozen=True)
class Case:
    id: str
    says: str  # the whole line after "thunder: error: "
    data: str | bytes | None = GOOD  # data.csv; None: no file is written
    config: Callable[[dict[str, Any]], None] | None = None  # changes the trained run's config
    args: tuple[str, ...] = CHUNK
    code: int = 1
    prepare: Callable[[Path], object] | None = None  # anything else the case needs in its directory
    via: tuple[str, ...] = ()  # a command that runs thunder (setpriv for the unreadable file)


def edit(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Set the dotted config key `path` to `value`; None deletes the key."""

    def apply(cfg: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        for key in parents:
            cfg = cfg[key]
        if value is None:
            del cfg[last]
        else:
            cfg[last] = value

    return apply


def both(*edits: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def apply(cfg: dict[str, Any]) -> None:
        for e in edits:
            e(cfg)

    return apply


def a_file(name: str) -> Callable[[Path], object]:
    return lambda d: (d / name).write_text("not a directory\n")


def unreadable(d: Path) -> None:
    (d / "data.csv").chmod(0)


# root reads any file whatever its mode; without these capabilities it obeys the mode like anyone
NO_OVERRIDE = (
    "setpriv",
    "--inh-caps=-dac_override,-dac_read_search",
    "--bounding-set=-dac_override,-dac_read_search",
)
SPLIT = "preprocessing_config.split_config"
MISSING_HINT = '(set preprocessing_config.missing to "ffill" or "drop" to accept gaps)'
UNKNOWN_HINT = "(check the spelling against docs/configuration.md)"

CASES = [
    # the file itself
    Case("missing file", "data.csv: no such file", data=None),
    Case("empty file", "data.csv: the file is empty (expected a header row)", data=""),
    Case("header only", "data.csv: the file has a header but no data rows", data="date,meantemp\n"),
    Case(
        "a directory",
        "Invalid value for '--input': File 'data.csv' is a directory (see 'thunder chunk --help')",
        data=None,
        prepare=lambda d: (d / "data.csv").mkdir(),
        code=2,
    ),
    Case(
        "unreadable file (mode 000)",
        "Invalid value for '--input': File 'data.csv' is not readable (see 'thunder chunk --help')",
        prepare=unreadable,
        via=NO_OVERRIDE if os.geteuid() == 0 else (),
        code=2,
    ),
    Case(
        "binary file (gzip)",
        "data.csv: not a UTF-8 text file",
        data=gzip.compress(GOOD.encode(), mtime=0),
    ),
    Case(
        "Latin-1 text",
        "data.csv: not a UTF-8 text file",
        data="date,meantemp,city\n2020-01-01,1,Köln\n".encode("latin-1"),
    ),
    # the CSV's shape
    Case(
        "';' as delimiter",
        "data.csv: missing column(s) 'meantemp'; the header has 'date;meantemp' "
        "(the header looks ';'-separated; thunder reads comma-separated files)",
        data=GOOD.replace(",", ";"),
    ),
    Case(
        "a row with an extra field",
        "data.csv: line 42: 3 fields where the header has 2 (quote a value that contains a comma)",
        data=row_41("2020-02-10,1,5"),
    ),
    Case(
        "an unclosed quote",
        'data.csv: row 41: a quoted value is never closed (an unmatched ")',
        data=row_41('2020-02-10,"1'),
    ),
    # columns
    Case(
        "missing target column",
        "data.csv: missing column(s) 'meantemp'; the header has 'date', 'humidity'",
        data=GOOD.replace("meantemp", "humidity"),
    ),
    Case(
        "missing feature column",
        "data.csv: missing column(s) 'humidity'; the header has 'date', 'meantemp'",
        config=both(
            edit("preprocessing_config.numerical_features", ["humidity"]),
            edit("model_config.num_features", 2),
        ),
    ),
    Case(
        "missing time column",
        "data.csv: no column 'timestamp' (preprocessing_config.time_column); "
        "the header has 'date', 'meantemp'",
        config=edit("preprocessing_config.time_column", "timestamp"),
    ),
    # cells
    Case(
        "non-numeric value",
        "data.csv: row 41, column 'meantemp': 'abc' is not a number",
        data=row_41("2020-02-10,abc"),
    ),
    Case(
        "NaN",
        f"data.csv: row 41, column 'meantemp' is empty or NaN {MISSING_HINT}",
        data=row_41("2020-02-10,NaN"),
    ),
    Case(
        "inf",
        "data.csv: row 41, column 'meantemp' is not finite",
        data=row_41("2020-02-10,-inf"),
    ),
    Case(
        "beyond float32",
        "data.csv: row 41, column 'meantemp': 1e+39 is beyond the float32 range (±3.4e+38)",
        data=row_41("2020-02-10,1e39"),
    ),
    Case(
        "empty cell",
        f"data.csv: row 41, column 'meantemp' is empty or NaN {MISSING_HINT}",
        data=row_41("2020-02-10,"),
    ),
    Case(
        "empty timestamp",
        "data.csv: row 41, column 'date' is empty (every row needs its timestamp)",
        data=row_41(",1"),
    ),
    Case(
        "not a date",
        "data.csv: row 41, column 'date': 'someday' is not a date/time",
        data=row_41("someday,1"),
    ),
    # rows
    Case(
        "out-of-order timestamps",
        "data.csv: row 41, column 'date': the timestamp goes back in time from the previous "
        "row; sort the rows by time",
        data=row_41("2020-01-05,1"),
    ),
    Case(
        "duplicate timestamps",
        "data.csv: row 41, column 'date': the timestamp repeats the previous row; "
        "sort the rows by time",
        data=row_41("2020-02-09,1"),
    ),
    Case(
        "fewer rows than one window",
        "data.csv: the data has 20 rows, which leaves the train split (rows 1-14) without one "
        "window of past_steps=24 + future_steps=12; add rows or change split_config",
        data="date,meantemp\n" + days(20),
    ),
    # --size
    *(
        Case(
            f"--size {size}",
            f"Invalid value for '--size': {says} (see 'thunder chunk --help')",
            args=(*CHUNK[:4], size, *CHUNK[5:]),
            code=2,
        )
        for size, says in (
            ("0", "0 is not in the range x>=1"),
            ("-5", "-5 is not in the range x>=1"),
            ("ten", "'ten' is not a valid integer range"),
            ("2.5", "'2.5' is not a valid integer range"),
        )
    ),
    Case(
        "no --size",
        "Missing option '--size' (see 'thunder chunk --help')",
        args=CHUNK[:3] + CHUNK[5:],
        code=2,
    ),
    Case(
        "a misspelt option",
        "No such option '--sise'. Did you mean '--size'? (see 'thunder chunk --help')",
        args=(*CHUNK[:3], "--sise", *CHUNK[4:]),
        code=2,
    ),
    # the config
    Case(
        "config file missing",
        "nope.json: config file not found (pass --config or set THUNDER_CONFIG)",
        args=(*CHUNK[:-1], "nope.json"),
    ),
    Case(
        "config: invalid JSON",
        "config.json: invalid JSON at line 1, column 21: Expecting value",
        prepare=lambda d: (d / "config.json").write_text('{"training_config": '),
    ),
    Case(
        "config: not an object",
        "config.json: the config must be a JSON object",
        prepare=lambda d: (d / "config.json").write_text("[]"),
    ),
    Case(
        "config: wrong type",
        "config.json: training_config.epochs: Input should be a valid integer, unable to parse "
        "string as an integer",
        config=edit("training_config.epochs", "ten"),
    ),
    Case(
        "config: a string for a list",
        "config.json: preprocessing_config.target_variables: Input should be a valid list",
        config=edit("preprocessing_config.target_variables", "meantemp"),
    ),
    Case(
        "config: unknown key",
        f"config.json: training_config.epoch: unknown key {UNKNOWN_HINT}",
        config=edit("training_config.epoch", 3),
    ),
    Case(
        "config: two unknown keys",
        f"config.json: unknown keys model_config.hiden_size, modle_path {UNKNOWN_HINT}",
        config=both(edit("modle_path", "m.pth"), edit("model_config.hiden_size", 8)),
    ),
    Case(
        "config: required field missing",
        "config.json: model_path: Field required",
        config=edit("model_path", None),
    ),
    Case(
        "config: horizons differ",
        f"config.json: model_config.future_steps (6) must equal {SPLIT}.future_steps (12)",
        config=edit("model_config.future_steps", 6),
    ),
    Case(
        "config: num_features disagrees",
        "config.json: model_config.num_features (2) must equal the number of input features "
        "(1: meantemp)",
        config=edit("model_config.num_features", 2),
    ),
    Case(
        "config: ratios leave no test rows",
        f"config.json: {SPLIT}: train_ratio + val_ratio (0.9 + 0.1) leaves no test rows; "
        "keep it below 1",
        config=both(edit(f"{SPLIT}.train_ratio", 0.9), edit(f"{SPLIT}.val_ratio", 0.1)),
    ),
    Case(
        "config: test split shorter than a window",
        "data.csv: the data has 100 rows, which leaves the test split (rows 96-100) without "
        "one window of past_steps=24 + future_steps=12; add rows or change split_config",
        config=both(edit(f"{SPLIT}.train_ratio", 0.8), edit(f"{SPLIT}.val_ratio", 0.15)),
    ),
    # where the artifacts go
    Case(
        "model_path under /proc",
        "model_path: cannot write to /proc/thunder (No such file or directory)",
        config=edit("model_path", "/proc/thunder/model.pth"),
    ),
    Case(
        "model_path under a file",
        "model_path: cannot write to notes.txt: notes.txt is a file, not a directory",
        config=edit("model_path", "notes.txt/model.pth"),
        prepare=a_file("notes.txt"),
    ),
    Case(
        "preprocessor_path under a file",
        "preprocessor_path: cannot write to notes.txt/scaler: notes.txt is a file, not a directory",
        config=edit("preprocessor_path", "notes.txt/scaler/preprocessor.json"),
        prepare=a_file("notes.txt"),
    ),
    Case(
        "--report under a file",
        "--report: cannot write to notes.txt: notes.txt is a file, not a directory",
        args=(*CHUNK, "--report", "notes.txt/run.json"),
        prepare=a_file("notes.txt"),
    ),
]


@dataclass(frozen=True)
class Previous:
    """A workspace with one trained model, and the config that trained it."""

    root: Path
    config: dict[str, Any]

    def snapshot(self) -> dict[str, tuple[str, bytes | str]]:
        """Every entry under the model's and the preprocessor's directories: file bytes, symlink
        targets (`current`, version directories), empty directories."""
        seen: dict[str, tuple[str, bytes | str]] = {}
        for top in {Path(self.config[k]).parent for k in ("model_path", "preprocessor_path")}:
            for parent, dirs, files in os.walk(top):  # does not follow symlinks
                for name in [*dirs, *files]:
                    path = Path(parent, name)
                    if path.is_symlink():
                        seen[str(path)] = ("link", os.readlink(path))
                    elif path.is_dir():
                        seen[str(path)] = ("dir", "")
                    else:
                        seen[str(path)] = ("file", path.read_bytes())
        return seen


@pytest.fixture(scope="module")
def previous(tmp_path_factory: pytest.TempPathFactory) -> Previous:
    root = tmp_path_factory.mktemp("previous")
    cfg = small_config(root)
    # the row cache keeps a file's checked rows whatever comes later (a file too short for
    # the window is fine with a shorter one), so it lives outside the model's directory here
    cfg["preprocessing_config"]["cache_dir"] = str(root / "cache")
    (root / "config.json").write_text(json.dumps(cfg))
    done = thunder(
        "chunk", "--input", str(DEMO_CSV), "--size", "500", "--config", "config.json", cwd=root
    )
    assert done.returncode == 0, done.stderr
    return Previous(root, cfg)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_line_and_keeps_the_previous_model(
    previous: Previous, tmp_path: Path, case: Case
) -> None:
    if case.via and shutil.which(case.via[0]) is None:
        pytest.skip(f"{case.via[0]} is needed to make a file unreadable to root")
    cfg = json.loads(json.dumps(previous.config))
    if case.config:
        case.config(cfg)
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    if isinstance(case.data, str):
        (tmp_path / "data.csv").write_text(case.data)
    elif isinstance(case.data, bytes):
        (tmp_path / "data.csv").write_bytes(case.data)
    if case.prepare:
        case.prepare(tmp_path)
    before = previous.snapshot()
    assert before, "the previous run left no artifacts to compare"

    done = thunder(*case.args, cwd=tmp_path, via=case.via)

    assert done.returncode == case.code, done.stderr
    assert done.stderr == f"thunder: error: {case.says}\n"
    assert "Traceback" not in done.stderr + done.stdout
    assert done.stdout == ""
    assert previous.snapshot() == before


def test_a_bom_quoted_fields_and_a_huge_size_are_accepted(tmp_path: Path) -> None:
    """What Excel's "CSV UTF-8" writes: a byte-order mark, every field quoted, a comma inside
    one; read in a single chunk by a --size beyond the file. One run for all three (a training
    costs seconds): without the mark skipped, `date` is not found as the time column."""
    rows = [line.split(",") for line in days(100).splitlines()]
    text = '"date","meantemp","city"\n' + "".join(f'"{d}","{t}","Delhi, India"\n' for d, t in rows)
    cfg = small_config(tmp_path)
    cfg["training_config"]["max_steps"] = 1
    cfg["preprocessing_config"]["cache"] = False
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    (tmp_path / "data.csv").write_bytes(b"\xef\xbb\xbf" + text.encode())

    done = thunder(*CHUNK[:4], str(10**30), *CHUNK[5:], cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    card = json.loads(Path(cfg["model_path"]).with_suffix(".card.json").read_text())
    assert card["columns"]["time"] == "date"
    assert card["data"]["rows"] == 100
