"""HTTP bodies of the API. Records are `df.tail(n).to_dict(orient="records")` as JSON."""

from pydantic import BaseModel, ConfigDict, Field

MAX_ROWS = 100_000
MAX_COLUMNS = 256

Value = float | int | str | None


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: list[dict[str, Value]] = Field(
        min_length=1,
        max_length=MAX_ROWS,
        description="History rows, oldest first; the last past_steps rows are used.",
    )


class PredictResponse(BaseModel):
    predictions: list[dict[str, float | int | str]]


class ErrorBody(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody
