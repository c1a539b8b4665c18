import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from dependency_injector import providers

from tests.conftest import small_config
from tests.unit.conftest import climate_like
from tests.unit.fakes import FakeChunkSource, InMemoryArtifactStore
from thunder.app.container import Container
from thunder.app.settings import Settings
from thunder.entrypoints.cli.main import cli


def table_source(table: Any, path: str, chunk_size: int) -> FakeChunkSource:
    """Stands in for the CSV reader: same keyword arguments as the CLI passes."""
    return FakeChunkSource(table, chunk_size, name=path)


def test_chunk_prints_metrics_next_to_the_naive_baseline_and_writes_a_report(
    container: Container, tmp_path: Path
) -> None:
    container.chunk_source.override(providers.Factory(table_source, climate_like(200)))
    report = tmp_path / "out" / "run.json"
    result = CliRunner().invoke(
        cli, ["chunk", "--input", "x.csv", "--size", "50", "--report", str(report)], obj=container
    )
    assert result.exit_code == 0, result.output
    assert "naive MAE" in result.output and "meantemp" in result.output
    data = json.loads(report.read_text())
    for key in ("mae", "rmse"):
        assert key in data["test"]["meantemp"]
    assert "mae" in data["baselines"]["naive_last"]["meantemp"]
    assert data["data"]["rows"] == 200 and data["train"]["windows_per_s"] > 0


def test_a_failed_run_is_one_line_and_non_zero(container: Container) -> None:
    container.chunk_source.override(providers.Factory(table_source, {"humidity": [1.0] * 50}))
    result = CliRunner().invoke(cli, ["chunk", "--input", "x.csv", "--size", "10"], obj=container)
    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0
    assert result.output.startswith("thunder: error:") and "meantemp" in result.output


def test_serve_without_artifacts_exits_with_one_line(container: Container) -> None:
    container.artifact_store.override(InMemoryArtifactStore())
    result = CliRunner().invoke(cli, ["serve", "--port", "0"], obj=container)
    assert result.exit_code == 1
    assert "no such artifact" in result.output


def test_find_lr_with_several_processes_is_refused_in_one_line(
    container: Container, settings: Settings
) -> None:
    settings.training_config.devices = 2
    source = providers.Factory(table_source, climate_like(200))
    container.chunk_source.override(source)
    args = ["chunk", "--input", "x.csv", "--size", "50", "--find-lr"]
    result = CliRunner().invoke(cli, args, obj=container)
    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0
    assert "--find-lr runs in one process" in result.output


def test_a_bad_optimisation_key_in_the_config_is_one_line_and_non_zero(tmp_path: Path) -> None:
    cfg = small_config(tmp_path)
    cfg["training_config"]["optimizer"] = {"name": "sgd", "momentum": 0.9, "eps": 1e-6}
    config = tmp_path / "config.json"
    config.write_text(json.dumps(cfg))
    data = tmp_path / "never-read.csv"
    data.write_text("date,meantemp\n")
    args = ["chunk", "--input", str(data), "--size", "10", "--config", str(config)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0
    assert "training_config.optimizer.sgd: 'eps' does not apply to optimizer 'sgd'" in result.output
