"""Values of a hyper-parameter search: what a trial drew and how it ended."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

Param = int | float | str

# Called after each validation epoch with (epoch, val_loss); True stops the run (the search
# pruned it).
EpochHook = Callable[[int, float], bool]


class TrialPruned(Exception):
    """Raised by an objective whose trial the search stopped early; not an error."""


@dataclass(frozen=True)
class TrialOutcome:
    number: int
    state: str  # "complete", "pruned", "failed" or "running" (killed, or still going)
    value: float | None  # the best val loss; None unless complete
    params: Mapping[str, Param] = field(default_factory=dict)
    epochs: int | None = None  # epochs reported before it ended
    wall_s: float | None = None

    @property
    def finished(self) -> bool:
        """Counts toward the trials asked for: it ran to the end or was pruned."""
        return self.state in ("complete", "pruned")
