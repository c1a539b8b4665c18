"""HTTP bodies of the API. Records are `df.tail(n).to_dict(orient="records")` as JSON."""

from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

MAX_ROWS = 100_000
MAX_COLUMNS = 256

Value = float | int | str | None

# /docs pre-fills "Try it out" with these, and the fuzz tests send them: 24 daily rows, the
# history the demo config (past_steps 24, target meantemp) needs
EXAMPLE_ROWS: list[JsonValue] = [
    {"date": f"2016-12-{d:02d}", "meantemp": 14.0 + d / 4} for d in range(1, 25)
]


class PredictRequest(BaseModel):
    """The history, as records (`data`) or as columns (`columns`): exactly one of the two."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"data": EXAMPLE_ROWS}]}
    )

    data: list[dict[str, Value]] | None = Field(
        None,
        min_length=1,
        max_length=MAX_ROWS,
        description="History rows, oldest first; the last past_steps rows are used.",
    )
    columns: dict[str, list[Value]] | None = Field(
        None,
        min_length=1,
        max_length=MAX_COLUMNS,
        description="History as one array per column, oldest first, all the same length.",
    )

    @model_validator(mode="after")
    def _one_form(self) -> "PredictRequest":
        if (self.data is None) == (self.columns is None):
            raise ValueError("send exactly one of 'data' (records) or 'columns' (arrays)")
        if self.columns is not None:
            lengths = {len(v) for v in self.columns.values()}
            if len(lengths) != 1:
                raise ValueError(f"every column must have the same length, got {sorted(lengths)}")
            if lengths.pop() > MAX_ROWS:
                raise ValueError(f"at most {MAX_ROWS} rows")
        return self

    def records(self) -> list[dict[str, Value]]:
        if self.data is not None:
            return self.data
        cols = self.columns or {}
        n = len(next(iter(cols.values())))
        return [{name: values[i] for name, values in cols.items()} for i in range(n)]


class SeriesRequest(PredictRequest):
    id: str = Field(min_length=1, max_length=256)


class BatchRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"series": [{"id": "delhi", "data": EXAMPLE_ROWS}]}]},
    )

    series: list[SeriesRequest] = Field(min_length=1, description="capped by serving_config")


class PredictResponse(BaseModel):
    predictions: list[dict[str, float | int | str]]


class ErrorBody(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


class SeriesForecast(BaseModel):
    id: str
    predictions: list[dict[str, float | int | str]]


class BatchResponse(BaseModel):
    forecasts: list[SeriesForecast]
