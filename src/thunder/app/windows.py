"""The steps `chunk` and `evaluate` share: checked rows from a source, scaled windows cut from
them, and a model scored on those windows next to the naive baselines."""

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from thunder.app.config_sections import TIME_COLUMN_GUESSES
from thunder.domain.data.calendar import with_calendar
from thunder.domain.data.checking import Missing, RowChecker
from thunder.domain.data.streams import Restartable
from thunder.domain.data.windowing import WindowCutter
from thunder.domain.errors import MissingColumn
from thunder.domain.ports import ChunkSource, InferenceModel, Preprocessor, Table
from thunder.domain.scoring.evaluation import Evaluation, Scoreboard
from thunder.domain.scoring.metrics import ErrorAccumulator
from thunder.domain.values import Chunk, Columns, WindowBatch, WindowSpec


def checked_rows(
    source: ChunkSource, cols: Columns, id_column: str | None, missing: Missing
) -> Callable[[], Iterator[Chunk]]:
    """A fresh pass over the source's rows on each call: checked by the missing-value policy and
    time order, with the calendar columns added. The header is checked first, once."""
    header = list(source.header())
    for name, column in (("time_column", cols.time), ("id_column", id_column)):
        if column is not None and column not in header:
            raise MissingColumn(
                f"{source.name}: no column '{column}' (preprocessing_config.{name}); "
                f"the header has {', '.join(map(repr, header))}",
                field=f"preprocessing_config.{name}",
            )
    if cols.calendar and cols.time is None:
        raise MissingColumn(
            f"{source.name}: calendar_features need a time column, and the header has none "
            f"of {', '.join(TIME_COLUMN_GUESSES)}; set preprocessing_config.time_column",
            field="preprocessing_config.time_column",
        )
    checker = RowChecker(source.name, cols.read, missing, cols.time)

    def rows() -> Iterator[Chunk]:
        checked = checker(source.chunks(cols.read, time=cols.time, series=id_column))
        return with_calendar(checked, cols.calendar) if cols.calendar else checked

    return rows


def window_cutter(cols: Columns, window: WindowSpec) -> WindowCutter:
    """Cuts windows out of chunks whose values are in `cols.scaled` order."""
    return WindowCutter(
        window,
        [cols.scaled.index(c) for c in cols.inputs],
        [cols.scaled.index(c) for c in cols.targets],
    )


def scaled_windows(
    table: Table, pre: Preprocessor, cols: Columns, window: WindowSpec
) -> Callable[[Mapping[int, range]], Iterable[WindowBatch]]:
    """For a {series code: origins} selection, a restartable stream of scaled windows."""
    scaled = Restartable(lambda: scaled_chunks(table, pre, cols))
    cutter = window_cutter(cols, window)
    return lambda wanted: Restartable(lambda: cutter.cut(scaled, wanted))


def scaled_chunks(table: Table, pre: Preprocessor, cols: Columns) -> Iterator[Chunk]:
    for chunk in table.chunks():
        values = pre.transform(chunk.values, cols.scaled)
        yield Chunk(chunk.start, values, chunk.series, None, chunk.names)


@dataclass(frozen=True)
class Scored:
    evaluation: Evaluation  # in the data's own units
    loss_scaled: float  # the mean squared error of the scaled point forecasts


@dataclass(frozen=True)
class Tally:
    """The running scores of some windows: all of them, or one rank's shard."""

    board: Scoreboard
    scaled: ErrorAccumulator

    @staticmethod
    def merged(parts: Sequence["Tally"]) -> "Tally":
        """The shards' tallies of a distributed run as one, in rank order."""
        first, *rest = parts
        for part in rest:
            first.board.merge(part.board)
            first.scaled.merge(part.scaled)
        return first

    def scored(self, scale: Mapping[str, float] | None) -> Scored:
        """`scale`: MASE's denominator per target."""
        mse = float(np.mean([e.rmse**2 for e in self.scaled.result().values()]))
        return Scored(self.board.result(scale), mse)


def score(
    windows: Iterable[WindowBatch],
    model: InferenceModel,
    pre: Preprocessor,
    targets: Sequence[str],
    *,
    season: int | None,
    scale: Mapping[str, float] | None,
    sample_at: Sequence[int] = (),
) -> Scored:
    """Forecast every window and score it in the data's own units; `scale` is MASE's
    denominator, `sample_at` the indices of the windows kept whole for plots."""
    return tally(windows, model, pre, targets, season=season, sample_at=sample_at).scored(scale)


def tally(
    windows: Iterable[WindowBatch],
    model: InferenceModel,
    pre: Preprocessor,
    targets: Sequence[str],
    *,
    season: int | None,
    sample_at: Sequence[int] = (),
    offset: int = 0,
) -> Tally:
    """Forecast the windows and add up their errors; `offset` is the index of the first."""
    board = Scoreboard(targets, season, sample_at, offset)
    scaled = ErrorAccumulator(targets)
    for wb in windows:
        pred = model.predict(wb.x)
        scaled.add(pred.point, wb.y)
        board.add(
            pred.map(lambda y: pre.inverse_transform(y, targets)),
            pre.inverse_transform(wb.y, targets),  # [n, future, T]
            pre.inverse_transform(wb.history, targets),  # [n, past, T]
        )
    return Tally(board, scaled)
