"""Use case: score the current model on any file with its columns, and write the report.

Every window of the file is scored (every eval_stride-th origin of each series), in one
streamed pass after the checking one: memory is a chunk, the accumulators and the few sample
windows the plots draw, however long the file.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from thunder.app.paths import report_dir
from thunder.app.serving import ServedModel
from thunder.app.settings import Settings
from thunder.app.windows import checked_rows, scaled_windows, score
from thunder.domain.data.splitting import split_origins, windows_in
from thunder.domain.data.table import StreamedTable
from thunder.domain.errors import MissingExtra
from thunder.domain.ports import ChunkSource, ProgressFactory, ReportWriter
from thunder.domain.scoring.evaluation import SAMPLE_WINDOWS, ForecastReport, spread, whole_plan
from thunder.domain.scoring.metrics import season_length


@dataclass(frozen=True)
class Evaluated:
    report: ForecastReport
    directory: str
    files: list[str]
    plots: bool


class EvaluateModel:
    def __init__(
        self,
        settings: Settings,
        model: Callable[[], ServedModel],
        progress_factory: ProgressFactory,
        reports: ReportWriter,
    ) -> None:
        self._settings = settings
        self._model = model
        self._new_progress = progress_factory  # (shown, rows per chunk) -> progress
        self._reports = reports

    def __call__(
        self, source: ChunkSource, out: str | None = None, progress: bool = False
    ) -> Evaluated:
        """Score the current model on `source`; write the report to `out` (default: the
        reports folder beside the model, named after the file); `progress` shows the passes."""
        if not self._reports.plots:
            raise MissingExtra(
                "evaluate draws its figures with matplotlib, which is not installed: "
                "pip install 'thunder[report]'"
            )
        loaded = self._model()
        cols, window, pre = loaded.card.columns, loaded.card.window, loaded.preprocessor
        cfg = self._settings.preprocessing_config
        rows = checked_rows(source, cols, cfg.id_column, cfg.missing)
        table = StreamedTable(rows, self._new_progress(progress, source.chunk_rows))
        plan = whole_plan(table.counts, window, source.name)
        stride = cfg.split_config.eval_stride
        season = season_length(cfg.season_length, table.step_seconds, window.past_steps)
        scored = score(
            scaled_windows(table, pre, cols, window)(split_origins(plan, "test", window, stride)),
            loaded.model,
            pre,
            cols.targets,
            season=season,
            # MASE divides by the train rows' naive error, as `chunk` did (older cards: none)
            scale=dict(loaded.card.metrics.get("mase_scale") or {}),
            sample_at=spread(SAMPLE_WINDOWS, windows_in(plan, "test", window, stride)),
        )
        name = Path(source.name).name
        report = ForecastReport(
            title=f"Evaluation on {name}",
            data=source.name,
            version=loaded.version,
            window=window,
            evaluation=scored.evaluation,
            context={"model_file": loaded.model_file, "rows": plan.rows},
        )
        directory = out or report_dir(self._settings, name.split(".")[0] or "data")
        files = self._reports.write(report, directory)
        return Evaluated(report, directory, files, self._reports.plots)
