"""POST /predict and /predict/batch: histories in, forecasts in the data's own units out.

No `from __future__ import annotations` here: FastAPI reads the annotations at runtime.
"""

from collections.abc import Sequence
from typing import Any

import orjson
from fastapi import APIRouter, Depends
from fastapi.responses import Response

from thunder.app.config_sections import ServingConfig
from thunder.app.serving import Forecasts, NonFiniteForecast, ServedModel
from thunder.domain.errors import InvalidHistory
from thunder.entrypoints.http.metrics import Metrics
from thunder.entrypoints.http.model_slot import ModelSlot
from thunder.entrypoints.http.schemas import (
    BatchRequest,
    BatchResponse,
    ErrorResponse,
    PredictRequest,
    PredictResponse,
)
from thunder.entrypoints.http.security import require_api_key


def predict_router(
    slot: ModelSlot, metrics: Metrics, serving: ServingConfig, keys: Sequence[str]
) -> APIRouter:
    # with keys, the forecast routes need one (and their OpenAPI entries say so); else open
    auth = [Depends(require_api_key(keys))] if keys else []
    errors: dict[int | str, dict[str, Any]] = {401: {"model": ErrorResponse}} if keys else {}
    router = APIRouter(dependencies=auth, responses=errors)

    @router.post("/predict", response_model=PredictResponse)
    async def predict(body: PredictRequest) -> dict[str, Any]:
        """One window, ~2 ms of model time: run on the event loop, as a hop to the thread pool
        and back costs about as much again (the batch endpoint, up to 1000 windows, does hop)."""
        model = slot.current()
        (rows,) = _json_rows(model, model.batch([body.history()]), "data")
        metrics.predicted("predict")
        return {"predictions": rows}

    @router.post("/predict/batch", response_model=BatchResponse)
    def predict_batch(body: BatchRequest) -> Response:
        """Every series in one vectorised forward pass. The answer is rendered here with orjson
        rather than checked against BatchResponse and rendered by FastAPI: for 1000 series
        that took ~20 ms of a ~150 ms request (the shape is fixed by Forecasts.as_json, and the
        schema tests check it)."""
        if len(body.series) > serving.max_series_per_request:
            raise InvalidHistory(
                f"at most {serving.max_series_per_request} series per request, got {len(body.series)}",
                field="series",
            )
        model = slot.current()
        forecasts = _json_rows(
            model, model.batch([s.history() for s in body.series]), "series[{}].data"
        )
        metrics.predicted("predict_batch", len(forecasts))
        answer = [
            {"id": s.id, "predictions": rows}
            for s, rows in zip(body.series, forecasts, strict=True)
        ]
        return Response(orjson.dumps({"forecasts": answer}), media_type="application/json")

    return router


def _json_rows(model: ServedModel, out: Forecasts, field: str) -> list[list[dict[str, Any]]]:
    """`field` names the series' history in an error, with {} for its position in a batch."""
    try:
        return out.as_json(model.card.columns.time or "timestamp")
    except NonFiniteForecast as e:
        raise InvalidHistory(e.message, field=field.format(e.series)) from None
