from pathlib import Path

import pytest

from thunder.adapters.output_dirs import check_writable
from thunder.domain.errors import ArtifactError


def test_directories_still_to_be_made_pass_and_nothing_is_left_behind(tmp_path: Path) -> None:
    check_writable([("model_path", tmp_path / "a" / "b"), ("preprocessor_path", tmp_path)])
    assert list(tmp_path.iterdir()) == []


def test_a_file_in_the_way_names_the_setting_and_the_file(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ArtifactError) as err:
        check_writable([("model_path", tmp_path)], [("--report", tmp_path / "notes.txt" / "r")])
    assert err.value.message == (
        f"--report: cannot write to {tmp_path}/notes.txt/r: {tmp_path}/notes.txt is a file, "
        "not a directory"
    )
    assert err.value.field == "--report"


def test_a_directory_that_takes_no_file_fails_before_any_work() -> None:
    with pytest.raises(ArtifactError, match=r"^model_path: cannot write to /proc/thunder \("):
        check_writable([("model_path", Path("/proc/thunder"))])
