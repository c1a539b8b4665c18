"""Restartable streams: an epoch is one `iter()`, and each `iter()` reads the source again."""

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class Restartable(Generic[T]):
    """An Iterable whose every iter() calls `start()` afresh (a one-shot generator would be a bug)."""

    def __init__(self, start: Callable[[], Iterator[T]]) -> None:
        self._start = start

    def __iter__(self) -> Iterator[T]:
        return self._start()
