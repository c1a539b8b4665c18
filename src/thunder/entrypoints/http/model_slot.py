"""The model a serving process answers with: loaded and warmed up at start-up, swapped for a new
version on SIGHUP or POST /admin/reload while requests keep flowing."""

import asyncio
import gc
import logging
import signal
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from thunder.app.serving import ServedModel
from thunder.domain.errors import ThunderError
from thunder.entrypoints.http.metrics import Metrics

reload_log = logging.getLogger("uvicorn.error")  # uvicorn prints it, as it prints its own events


class ModelSlot:
    """`first` gives the model loaded once per process (the CLI may have loaded it already),
    `load` a fresh one from the current version, for a reload."""

    def __init__(
        self, first: Callable[[], ServedModel], load: Callable[[], ServedModel], metrics: Metrics
    ) -> None:
        self._first = first
        self._load = load
        self._metrics = metrics
        self._swap = threading.Lock()  # one reload at a time
        self._settle_heap = False
        self.model: ServedModel | None = None  # None until start-up has loaded it

    def current(self) -> ServedModel:
        """The model to answer with: a handler reads it once, as a reload may swap it."""
        if self.model is None:  # uvicorn serves requests only after start-up has loaded it
            raise RuntimeError("no model loaded yet")
        return self.model

    @asynccontextmanager
    async def serving(self) -> AsyncIterator[None]:
        """Serve the first model, warmed up; with a real server, reload on SIGHUP meanwhile."""
        model = self._first()
        model.warm_up()
        # a real server runs its loop in the main thread, an in-thread test client does not:
        # only a server freezes its heap, and signals reach the main thread only
        on_hup = self._settle_heap = threading.current_thread() is threading.main_thread()
        self._serve(model)
        loop = asyncio.get_running_loop()
        if on_hup:
            loop.add_signal_handler(
                signal.SIGHUP, lambda: loop.run_in_executor(None, self.reload_on_hup)
            )
        try:
            yield
        finally:
            if on_hup:
                loop.remove_signal_handler(signal.SIGHUP)

    def reload(self, swap: bool = True) -> ServedModel:
        """Load and warm up the current version and, if `swap`, serve it. A ThunderError leaves
        the old model in place. Without `swap` it only checks that the version loads."""
        with self._swap:
            model = self._load_warm()
            if swap:
                self._serve(model)
        return model

    def reload_on_hup(self) -> None:
        try:
            model = self.reload()
            reload_log.info("SIGHUP: now serving the model trained at %s", model.card.trained_at)
        except ThunderError as e:  # keep serving the old model; say why
            reload_log.error("SIGHUP: reload failed, still serving the old model: %s", e.message)

    def _load_warm(self) -> ServedModel:
        model = self._load()
        model.warm_up()
        return model

    def _serve(self, model: ServedModel) -> None:
        """Swap in a loaded, warmed-up model: one attribute store, so each request sees either
        the old model or the new one, never a mix (a handler reads it once)."""
        previous, self.model = self.model, model
        self._metrics.serving(model, previous)
        if self._settle_heap:
            _settle_heap()


def _settle_heap() -> None:
    """Collect, then move everything alive (torch, the model, the app) out of the garbage
    collector's walks: a body of 350,000 small containers triggers several full collections,
    each walking the whole heap (1 MiB of `[]` rows took 1.2 s to refuse, 0.1 s frozen).
    Unfreezing first lets a model replaced by a reload be collected."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
