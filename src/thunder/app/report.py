"""What a training run returns: a typed RunReport. The CLI formats it, `--report` writes
`as_dict()` (the JSON shape users script against), tune reads its fields, and the model card and
the experiment log take their parts of it."""

from dataclasses import asdict, dataclass, field
from typing import Any

TargetScores = dict[
    str, Any
]  # per target: {"mae": ..., "rmse": ..., ...} as Evaluation.as_dict gives


@dataclass(frozen=True)
class DataSummary:
    file: str
    sha256: str
    rows: int
    series: int
    train_rows: int
    val_rows: int
    test_rows: int
    cache: str  # "hit", "built" or "off"
    check_s: float
    scale_s: float


@dataclass(frozen=True)
class TrainSummary:
    epochs: int
    steps: int
    windows: int  # train windows of one epoch
    windows_seen: int  # by every process together, over every epoch
    wall_s: float
    windows_per_s: float
    processes: int
    best_val_loss: float | None
    learning_rate: float
    lr_found: bool
    log_dir: str | None
    batch_size: int  # windows per train batch
    batch_size_found: bool = False  # chosen by --find-batch-size
    init_from: str | None = None  # the published model the weights started from (--init-from)
    kept_scaler: bool = False  # its scaler kept (--keep-scaler) instead of one refitted


@dataclass(frozen=True)
class TestSummary:
    windows: int
    loss_scaled: float  # the mean squared error of the scaled point forecasts
    model: TargetScores  # per target
    baselines: dict[str, TargetScores]  # per baseline, per target
    by_step: dict[str, Any]
    coverage: dict[str, dict[str, float]] | None  # quantile models only
    season_length: int | None


@dataclass(frozen=True)
class Published:
    version: str
    model: str
    preprocessor: str
    card: str
    onnx: str | None = None


@dataclass(frozen=True)
class Tracked:
    run: str
    uri: str


@dataclass(frozen=True)
class ReportFiles:
    dir: str
    files: list[str]
    plots: bool


@dataclass(frozen=True)
class RunReport:
    """One training run. `test` is None for a validation-only run (a tuning trial), which
    publishes nothing; `artifacts`, `tracking` and `report` are set once they exist."""

    data: DataSummary
    train: TrainSummary
    mase_scale: dict[str, float] = field(default_factory=dict)  # train rows' naive MAE
    test: TestSummary | None = None
    artifacts: Published | None = None
    tracking: Tracked | None = None
    report: ReportFiles | None = None

    def card_metrics(self) -> dict[str, Any]:
        """What the model card keeps of the run: the test scores, baselines and MASE scale."""
        full = self.as_dict()
        return {k: full[k] for k in ("test", "baselines", "coverage", "mase_scale") if k in full}

    def as_dict(self) -> dict[str, Any]:
        """The JSON of `chunk --report`: its keys and nesting are a public format."""
        out: dict[str, Any] = {"data": asdict(self.data), "train": asdict(self.train)}
        if self.test is not None:
            t = self.test
            out["test"] = {"windows": t.windows, "loss_scaled": t.loss_scaled, **t.model}
            if t.coverage is not None:
                out["coverage"] = t.coverage
            out["baselines"] = t.baselines
            out["season_length"] = t.season_length
            out["by_step"] = t.by_step
        out["mase_scale"] = self.mase_scale
        if self.artifacts is not None:
            a = asdict(self.artifacts)
            out["artifacts"] = {k: a[k] for k in ("version", "onnx") if a[k] is not None} | {
                k: a[k] for k in ("model", "preprocessor", "card")
            }
        if self.tracking is not None:
            out["tracking"] = asdict(self.tracking)
        if self.report is not None:
            out["report"] = asdict(self.report)
        return out
