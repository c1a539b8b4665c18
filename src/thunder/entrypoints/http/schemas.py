"""HTTP bodies of the API. Records are `df.tail(n).to_dict(orient="records")` as JSON."""

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

MAX_ROWS = 100_000
MAX_COLUMNS = 256

Value = float | int | str | None
Row = Annotated[dict[str, Value], Field(max_length=MAX_COLUMNS)]
# fail_fast: the first bad value ends validation; pydantic would otherwise report every one
Column = Annotated[list[Value], Field(max_length=MAX_ROWS, fail_fast=True)]

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

    data: list[Row] | None = Field(
        None,
        min_length=1,
        max_length=MAX_ROWS,
        fail_fast=True,
        description="History rows, oldest first; the last past_steps rows are used.",
    )
    columns: dict[str, Column] | None = Field(
        None,
        min_length=1,
        max_length=MAX_COLUMNS,
        description="History as one array per column, oldest first, all the same length.",
    )

    @model_validator(mode="before")
    @classmethod
    def _sizes_first(cls, raw: Any) -> Any:
        """Refuse oversized shapes before the fields validate each element: pydantic reports
        every bad element of a dict (up to four errors each, for the Value union), so 1 MiB of
        bad values in one row cost ~300,000 error objects, seconds and hundreds of MiB."""
        if not isinstance(raw, dict):
            return raw
        data, cols = raw.get("data"), raw.get("columns")
        if isinstance(data, list):
            if len(data) > MAX_ROWS:
                raise ValueError(f"data: at most {MAX_ROWS} rows, got {len(data)}")
            for i, row in enumerate(data):
                if isinstance(row, dict) and len(row) > MAX_COLUMNS:
                    raise ValueError(f"data[{i}]: at most {MAX_COLUMNS} columns, got {len(row)}")
        if isinstance(cols, dict) and len(cols) > MAX_COLUMNS:
            raise ValueError(f"columns: at most {MAX_COLUMNS} columns, got {len(cols)}")
        return raw

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

    def history(self) -> list[dict[str, Value]] | dict[str, list[Value]]:
        """The rows as sent: records, or columns (never turned into records: a batch of
        columnar series would spend more on that than on its forecasts)."""
        if self.data is not None:
            return self.data
        return self.columns or {}


class SeriesRequest(PredictRequest):
    id: str = Field(min_length=1, max_length=256)


class BatchRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"series": [{"id": "delhi", "data": EXAMPLE_ROWS}]}]},
    )

    series: list[SeriesRequest] = Field(
        min_length=1, fail_fast=True, description="capped by serving_config"
    )


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
