"""After a run is scored: the model card, the files of the new version (the ONNX export when it
can be made), one atomic publish, then the experiment log and the test report. Only the publish
can fail the run: an export, a tracking server or a plot that fails costs a warning."""

import json
import logging
from dataclasses import replace
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from thunder.app import paths
from thunder.app.export import OnnxExporter
from thunder.app.report import Published, ReportFiles, RunReport, Tracked
from thunder.app.settings import Settings
from thunder.domain.ports import ArtifactStore, ExperimentTracker, ReportWriter
from thunder.domain.scoring.evaluation import Evaluation, ForecastReport
from thunder.domain.values import Columns, ModelCard

log = logging.getLogger("thunder")
VERSIONED = ("thunder", "torch", "pytorch-lightning", "scikit-learn", "numpy", "pandas")


class PublishRun:
    def __init__(
        self,
        settings: Settings,
        store: ArtifactStore,
        to_onnx: OnnxExporter | None = None,
        tracker: ExperimentTracker | None = None,
        reports: ReportWriter | None = None,
        report_dir: str | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._to_onnx = to_onnx  # when set, each version gets an ONNX export of its model too
        self._tracker = tracker  # when set, the run's MLflow record gets the report and files
        self._reports = reports  # when set, the test split's report is written to report_dir
        self._report_dir = report_dir

    def __call__(
        self,
        report: RunReport,
        files: dict[str, bytes],
        columns: Columns,
        evaluation: Evaluation,
        tracking_run: str | None,
        network: str | None = None,
    ) -> RunReport:
        """`files`: the model's and the preprocessor's bytes by path; the card joins them.
        `network`: what trained, when not the network model_config names (a user's module),
        written on the card as model_config.architecture."""
        s = self._settings
        files = {**files, paths.card_path(s): _card(s, columns, report, network)}
        onnx = self._export_onnx(files[s.model_path])
        if onnx is not None:
            files[paths.onnx_path(s)] = onnx
        version = self._store.publish(files)
        published = Published(
            version,
            s.model_path,
            s.preprocessor_path,
            paths.card_path(s),
            paths.onnx_path(s) if onnx is not None else None,
        )
        report = replace(report, artifacts=published)
        report = replace(report, tracking=self._track(tracking_run, report, files))
        return replace(report, report=self._write_report(report, version, evaluation))

    def _export_onnx(self, model: bytes) -> bytes | None:
        """The ONNX export for fast serving; a failure to export never costs the trained model,
        which is published without it (and `thunder export` can try again)."""
        if self._to_onnx is None:
            return None
        try:
            return self._to_onnx(model, self._settings.model_path, False)
        except Exception as e:  # an exporter bug must not lose a finished training run
            log.warning("the ONNX export failed, publishing without it: %s", e)
            return None

    def _track(self, run: str | None, report: RunReport, files: dict[str, bytes]) -> Tracked | None:
        """The config, the report's numbers and the published files, into the MLflow run the
        epochs were logged to. The model is published by now: a failure here costs a warning."""
        if self._tracker is None or run is None or report.artifacts is None:
            return None
        config = _flat(self._settings.shareable())
        numbers = {
            k: float(v)
            for k, v in _flat(report.as_dict()).items()
            if isinstance(v, int | float) and not isinstance(v, bool)
        }
        try:
            self._tracker.record(
                run,
                params={k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()},
                metrics=numbers,
                files=files,
                tags={
                    "thunder.version": report.artifacts.version,
                    "thunder.data": report.data.file,
                },
            )
        except Exception as e:  # a tracking server down must not fail a finished run
            log.warning("the MLflow run was not completed: %s", e)
            return None
        return Tracked(run, self._tracker.uri)

    def _write_report(
        self, run: RunReport, version: str, evaluation: Evaluation
    ) -> ReportFiles | None:
        """The test split's report; a failure to write it never costs the published model."""
        if self._reports is None or self._report_dir is None:
            return None
        data = run.data.file
        report = ForecastReport(
            f"Test split of {Path(data).name}", data, version, self._settings.window, evaluation
        )
        try:
            files = self._reports.write(report, self._report_dir)
        except Exception as e:  # a plotting or disk problem must not fail a finished run
            log.warning("the test report was not written: %s", e)
            return None
        return ReportFiles(self._report_dir, files, self._reports.plots)


def _card(settings: Settings, columns: Columns, report: RunReport, network: str | None) -> bytes:
    config = settings.shareable()
    if network is not None:
        config["model_config"]["architecture"] = network
    card = ModelCard(
        columns=columns,
        window=settings.window,
        config=config,
        metrics=report.card_metrics(),
        data=report.as_dict()["data"],
        versions=_versions(),
        trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    return json.dumps(card.as_dict(), indent=2).encode()


def _flat(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}: nested report or config keys as MLflow names."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _versions() -> dict[str, str]:
    out = {}
    for name in VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "unknown"
    return out
