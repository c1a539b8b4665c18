"""Use case: before any data is read, what would fail a training run only at its end, checked in
a blink: every output folder must take a file, and the logger's packages must be installed."""

from collections.abc import Callable, Iterable, Sequence

from thunder.app.paths import Output, outputs
from thunder.app.settings import Settings

WritableCheck = Callable[[Iterable[Output]], None]  # ArtifactError naming the first that fails


class CheckBeforeTraining:
    def __init__(
        self, settings: Settings, writable: WritableCheck, logger_check: Callable[[str], None]
    ) -> None:
        self._settings = settings
        self._writable = writable
        self._logger_check = logger_check  # MissingExtra when the logger's packages are missing

    def __call__(self, more: Sequence[Output] = ()) -> None:
        """`more`: folders a command writes to besides the configured ones (`--report`)."""
        self._writable([*outputs(self._settings), *more])
        self._logger_check(self._settings.training_config.logger)
