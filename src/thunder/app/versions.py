"""Use cases over the kept artifact versions: list them, roll back to one."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from thunder.app import paths
from thunder.app.serving import read_card
from thunder.app.settings import Settings
from thunder.domain.ports import ArtifactStore


@dataclass(frozen=True)
class VersionInfo:
    version: str
    current: bool
    trained_at: str
    test: Mapping[str, Any]  # the card's test metrics, per target


class Versions:
    def __init__(self, settings: Settings, store: ArtifactStore) -> None:
        self._settings = settings
        self._store = store

    def list(self) -> list[VersionInfo]:
        """Kept versions, oldest first; each one's card is read (and checked) from its own files."""
        current = self._store.current_version()
        return [self._info(v, v == current) for v in self._store.history()]

    def rollback(self, version: str) -> VersionInfo:
        self._store.activate(version)
        return self._info(version, True)

    def _info(self, version: str, current: bool) -> VersionInfo:
        path = paths.card_path(self._settings)
        card = read_card(self._store.load([path], version).files[path], path)
        test = {k: v for k, v in card.metrics.get("test", {}).items() if isinstance(v, dict)}
        return VersionInfo(version, current, card.trained_at, test)
