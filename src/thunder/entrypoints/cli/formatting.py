"""What `chunk` and `evaluate` print: the run summary and the metrics table."""

from pathlib import Path
from typing import Any

from thunder.app.report import RunReport


def format_summary(report: RunReport) -> str:
    data, train, test = report.data, report.train, report.test
    lines = [
        f"data: {data.rows} rows (train {data.train_rows}, val {data.val_rows}, "
        f"test {data.test_rows})",
        f"train: {train.epochs} epoch(s), {train.steps} steps, {train.wall_s:.1f} s, "
        f"{train.windows_per_s:.0f} windows/s, learning rate {train.learning_rate:.3g}"
        + (" (found by --find-lr)" if train.lr_found else "")
        + (
            f", batch size {train.batch_size} (found by --find-batch-size)"
            if train.batch_size_found
            else ""
        )
        + (f", started from {train.init_from}" if train.init_from else "")
        + (" and its scaler" if train.kept_scaler else ""),
    ]
    if test is not None:
        season = test.season_length
        lines.append(
            f"test: {test.windows} windows; baselines on the same windows: naive = last value"
            + (f", seasonal = the last {season} rows repeated" if season else "")
        )
        lines += metrics_table(test.model, test.baselines, test.coverage or {})
    arts = report.artifacts
    if arts is not None:
        lines.append(f"published as version {arts.version} (`thunder versions` lists them)")
        lines.append(
            f"model: {arts.model}  preprocessor: {arts.preprocessor}  card: {arts.card}"
            + (f"  onnx: {arts.onnx}" if arts.onnx is not None else "")
        )
    if report.tracking is not None:
        lines.append(f"mlflow: run {report.tracking.run} in {report.tracking.uri}")
    if report.report is not None:
        lines.append(report_line("test report", report.report.dir, report.report.plots))
    return "\n".join(lines)


def metrics_table(
    model: dict[str, Any], baselines: dict[str, Any], coverage: dict[str, Any]
) -> list[str]:
    """Per target: the model's errors next to the naive and seasonal-naive ones."""
    naive, seasonal = baselines["naive_last"], baselines.get("seasonal_naive", {})
    lines = [
        f"{'target':<14}{'MAE':>9}{'RMSE':>9}{'sMAPE%':>8}{'MASE':>7}{'naive MAE':>11}"
        f"{'seasonal MAE':>14}{'MAE/naive':>11}",
    ]
    for target, stats in naive.items():
        m = model[target]
        ratio = m["mae"] / stats["mae"] if stats["mae"] else float("nan")
        mase = f"{m['mase']:>7.3f}" if "mase" in m else f"{'-':>7}"
        snaive = f"{seasonal[target]['mae']:>14.4f}" if target in seasonal else f"{'-':>14}"
        lines.append(
            f"{target:<14}{m['mae']:>9.4f}{m['rmse']:>9.4f}{m['smape']:>8.2f}{mase}"
            f"{stats['mae']:>11.4f}{snaive}{ratio:>11.3f}"
        )
    for target, shares in coverage.items():
        parts = ", ".join(f"{name} {share:.1%}" for name, share in shares.items())
        lines.append(f"coverage of {target} (share of actuals at or below / inside): {parts}")
    return lines


def report_line(label: str, directory: str, plots: bool) -> str:
    page = str(Path(directory) / "index.html")
    if plots:
        return f"{label}: {page} (metrics.json and the PNG figures beside it)"
    return f"{label}: {page} (tables only: plots need pip install 'thunder[report]')"
