"""`thunder.load`: a published version as a Python object that forecasts from DataFrames.

It reads what `thunder chunk` (or `thunder.train`) published, through LoadModel, and forecasts
through ServedModel.batch, the path /predict runs: the same history gives the same numbers.
"""

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, TypeVar

import pandas as pd

from thunder.app.container import Container
from thunder.app.evaluate import Evaluated
from thunder.app.serving import NonFiniteForecast, ServedModel
from thunder.domain.data.history import History
from thunder.domain.errors import InvalidArgument, InvalidHistory
from thunder.domain.values import Columns, ModelCard, WindowSpec
from thunder.entrypoints.bootstrap import bootstrap
from thunder.entrypoints.library.config import ConfigLike, positive, settings_of
from thunder.entrypoints.library.frames import (
    FrameHistory,
    TrainingData,
    forecast_frame,
    history_of,
)
from thunder.entrypoints.library.sources import source_of

if TYPE_CHECKING:
    import pytorch_lightning as pl

Key = TypeVar("Key")
EVALUATE_CHUNK_SIZE = 10_000  # `thunder evaluate --size`'s default


class TrainedModel:
    """A published version, loaded: its model, its scaler and its card. Made by `thunder.load`
    or `TrainingRun.load()`.

    Attributes:
        version: the version it was loaded from (as `thunder versions` lists it).
        card: the model card: columns, window, config, test metrics, data checksum.
    """

    def __init__(self, served: ServedModel, container: Container) -> None:
        self._served = served
        self._container = container
        self.version: str = served.version
        self.card: ModelCard = served.card

    @property
    def columns(self) -> Columns:
        """The columns it reads (`inputs`, `time`) and forecasts (`targets`)."""
        return self.card.columns

    @property
    def window(self) -> WindowSpec:
        """`past_steps` rows of history in, `future_steps` rows of forecast out."""
        return self.card.window

    def __repr__(self) -> str:
        w = self.window
        return (
            f"TrainedModel(version={self.version!r}, targets={list(self.columns.targets)}, "
            f"past_steps={w.past_steps}, future_steps={w.future_steps})"
        )

    def module(self) -> "pl.LightningModule":
        """The trained network as a `thunder.ThunderModule`, for Lightning's inference loops
        (`trainer.predict`, `trainer.validate`, `trainer.test`; it has no optimizer, so it
        does not train: `thunder.train` does). Its predictor is this version's
        scaler, so it reads windows [batch, past_steps, len(columns.inputs)] in the data's
        units, the columns in `columns.inputs` order, and `predict_step` returns forecasts
        [batch, future_steps, len(columns.targets), quantiles] in the data's units.

        The torch weights are read even where `predict` runs the ONNX export.
        """
        served = self._container.load_model()(self.version, weights=True)
        return served.module()  # type: ignore[return-value]

    def predict(self, history: pd.DataFrame) -> pd.DataFrame:
        """Forecast the next `future_steps` rows after `history`, in the data's own units.

        Args:
            history: the series' latest rows, oldest first, with the columns the model reads
                (`columns.read`) and its time column (a column or a DatetimeIndex); at least
                `past_steps` rows, of which the last `past_steps` are used.

        Returns:
            One row per future step: `step` (1..future_steps); the time column, continuing the
            history's spacing (datetimes when the history's are, empty when its times are not
            regular); one column per target; and for a quantile model `<target>_q10`, ... per
            level, as /predict answers.

        Raises:
            MissingColumn: the history lacks a column the model reads.
            InvalidHistory: too few rows, or a value that is not a finite number.
        """
        (frame,) = self._forecast([history_of(history, self.columns)])
        return frame

    def predict_many(self, histories: Mapping[Key, pd.DataFrame]) -> dict[Key, pd.DataFrame]:
        """Forecast many series in one vectorised forward pass (as /predict/batch does).

        Args:
            histories: each series' history, as `predict` takes it, by any key (a series id).

        Returns:
            Each series' forecast, as `predict` returns it, under the same key and in the
            same order. (A dict rather than one long frame, so a forecast is found by its key;
            `pd.concat(result, names=["series"])` gives the long frame.)

        Raises:
            MissingColumn, InvalidHistory: as `predict`, naming the series' key.
            InvalidArgument: `histories` is not a mapping (a list of frames, say).
        """
        if not isinstance(histories, Mapping):
            raise InvalidArgument(
                f"histories: expected a mapping of key to DataFrame (a dict), "
                f"got {type(histories).__name__}",
                field="histories",
            )
        keys = list(histories)
        if not keys:
            return {}
        parsed = [history_of(histories[key], self.columns, f"histories[{key!r}]") for key in keys]
        try:
            frames = self._forecast(parsed)
        except InvalidHistory as e:
            raise self._named(e, keys, parsed) from None
        return dict(zip(keys, frames, strict=True))

    def evaluate(
        self,
        data: TrainingData,
        out: str | os.PathLike[str] | None = None,
        *,
        chunk_size: int = EVALUATE_CHUNK_SIZE,
        progress: bool = False,
    ) -> Evaluated:
        """Score this version on `data` as `thunder evaluate` does: every window, next to the
        naive baselines, per target and horizon step; write metrics.json, the figures and
        index.html to `out` (default: `reports/<data name>/` beside the model).

        Args:
            data: a CSV or Parquet path, a DataFrame or an iterable of them (as `train`).
            out: the report folder, replaced whole.
            chunk_size: rows per chunk.
            progress: show progress bars for the passes (stderr).

        Returns:
            `report.as_dict()` is metrics.json; `directory` and `files` say where it went.

        Raises:
            InvalidArgument: `out` is neither a path nor None, or `chunk_size` is not >= 1.
        """
        if out is not None and not isinstance(out, str | os.PathLike):
            raise InvalidArgument(
                f"out: expected the path of a report folder or None, got {type(out).__name__}",
                field="out",
            )
        positive(chunk_size, "chunk_size")
        evaluate = self._container.evaluate_model(model=lambda: self._served)
        with source_of(self._container, data, chunk_size, self.columns.time) as source:
            return evaluate(source, None if out is None else os.fspath(out), progress=progress)

    def _forecast(self, histories: list[FrameHistory]) -> list[pd.DataFrame]:
        time = self.columns.time
        batch: list[History] = [h.columns for h in histories]
        rows = self._served.batch(batch).as_json(time or "timestamp")
        return [
            forecast_frame(r, time, h.stamps, h.last) for r, h in zip(rows, histories, strict=True)
        ]

    def _named(
        self, error: InvalidHistory, keys: Sequence[object], parsed: list[FrameHistory]
    ) -> InvalidHistory:
        """The error of a batch, said of the series it came from (by key, not position)."""
        at = error.series if isinstance(error, NonFiniteForecast) else None
        for i in range(len(parsed)) if at is None else [at]:
            try:
                self._forecast([parsed[i]])
            except InvalidHistory as e:
                where = f"histories[{keys[i]!r}]"
                return InvalidHistory(f"{where}: {e.message}", field=f"{where}.{e.field}")
        return error


def load(config: ConfigLike = None, *, version: str | None = None) -> TrainedModel:
    """The current published version (or the kept `version` named), ready to forecast: what
    `thunder serve` would serve with this config.

    Args:
        config: the path of a config.json, the Settings `thunder.load_config` returned, or
            None for the CLI's lookup ($THUNDER_CONFIG, else ./config.json).
        version: a version `thunder versions` lists; None for the current one.

    Raises:
        ArtifactNotFound: nothing has been published there yet, or no such version.
        ArtifactCorrupt: a file does not match its checksum.
    """
    return load_from(bootstrap(settings=settings_of(config)), version=version)


def load_from(container: Container, *, version: str | None = None) -> TrainedModel:
    """`load` with a container already built (bootstrap's, or a test's with fakes)."""
    if version is not None and not isinstance(version, str):
        raise InvalidArgument(
            f"version: expected a version id (text), got {type(version).__name__}",
            field="version",
        )
    return TrainedModel(container.load_model()(version), container)
