"""What /metrics shows: the instrumentator's request metrics, the series forecast per endpoint,
and which model is being served. With `serve --workers N` prometheus runs in multiprocess mode:
each worker writes its figures under $PROMETHEUS_MULTIPROC_DIR and /metrics sums them."""

import os

from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Counter, Gauge, multiprocess
from prometheus_fastapi_instrumentator import Instrumentator

from thunder.app.serving import ServedModel


class Metrics:
    def __init__(self, multiprocess: bool) -> None:
        self._multiprocess = multiprocess
        # one registry per app: several apps in one process (tests) must not share counters
        self.registry = CollectorRegistry()
        self._predictions = Counter(
            "thunder_predictions",
            "Series forecast, by endpoint.",
            ["endpoint"],
            registry=self.registry,
        )
        self._model_info = Gauge(
            "thunder_model_info",
            "The model being served (1 for its labels).",
            ["trained_at", "data_sha256"],
            registry=self.registry,
            multiprocess_mode="livemax",
        )

    def instrument(self, app: FastAPI) -> None:
        """Time every request but /metrics itself, and serve /metrics (not in the schema)."""
        Instrumentator(registry=self.registry, excluded_handlers=["/metrics"]).instrument(
            app
        ).expose(app, endpoint="/metrics", include_in_schema=False)

    def predicted(self, endpoint: str, series: int = 1) -> None:
        self._predictions.labels(endpoint).inc(series)

    def serving(self, model: ServedModel, previous: ServedModel | None) -> None:
        """The model-info gauge follows a swap: 1 for the new model's labels, none for the old."""
        if previous is not None:
            if self._multiprocess:  # no clear() in multiprocess mode: zero it instead
                self._model_info.labels(*_info_labels(previous)).set(0)
            else:
                self._model_info.clear()
        self._model_info.labels(*_info_labels(model)).set(1)

    def close(self) -> None:
        """At shutdown: drop this worker's live gauges from /metrics."""
        if self._multiprocess:
            multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


def _info_labels(model: ServedModel) -> tuple[str, str]:
    return model.card.trained_at, str(model.card.data.get("sha256", ""))
