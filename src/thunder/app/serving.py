"""Use cases for serving: load the trained artifacts once, then forecast from a client's history."""

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from thunder.app import paths
from thunder.app.settings import Settings
from thunder.domain.data.history import History, future_timestamps, model_inputs
from thunder.domain.errors import ArtifactCorrupt, ArtifactNotFound, ConfigError, InvalidHistory
from thunder.domain.ports import (
    ArtifactStore,
    InferenceModel,
    ModelLoader,
    ModuleSource,
    Preprocessor,
    PreprocessorLoader,
)
from thunder.domain.values import ArtifactSet, ModelCard, Prediction, Scaling, level_name


class ServedModel:
    """A loaded version ready to serve: its model, preprocessor and card. `batch` forecasts
    future_steps rows, in the data's own units, from the last past_steps records of each series."""

    def __init__(
        self,
        model: InferenceModel,
        preprocessor: Preprocessor,
        card: ModelCard,
        version: str = "",
        model_file: str = "",
    ) -> None:
        self._model = model
        self._preprocessor = preprocessor
        self.card = card
        self.version = version  # the artifact version it was loaded from
        self.model_file = model_file  # which of its files runs: the weights or the ONNX export
        self.warmed_up = False

    @property
    def model(self) -> InferenceModel:
        """The loaded model: scaled input windows in, scaled forecasts out."""
        return self._model

    @property
    def preprocessor(self) -> Preprocessor:
        return self._preprocessor

    def module(self) -> object:
        """The network as a ThunderModule whose predictor is this version's scaler: windows of
        the input columns [B, past, inputs] in the data's units in, forecasts [B, future,
        targets, Q] in the data's units out (ConfigError for a backend that has no network)."""
        if not isinstance(self._model, ModuleSource):
            raise ConfigError(
                f"{self.model_file}: this backend runs no torch network; load the version with "
                f"serving_config.backend 'torch' to get its LightningModule",
                field="serving_config.backend",
            )
        cols = self.card.columns
        (x_mean, x_scale), (y_mean, y_scale) = (
            self._preprocessor.affine(cols.inputs),
            self._preprocessor.affine(cols.targets),
        )
        scaling = Scaling(
            tuple(map(float, x_mean)),
            tuple(map(float, x_scale)),
            tuple(map(float, y_mean)),
            tuple(map(float, y_scale)),
        )
        return self._model.as_module(scaling)

    def warm_up(self, passes: int = 3) -> None:
        """Forward passes on a dummy window, so real requests pay no lazy set-up: the first
        compiles the inference graph (~0.2 s), the next ones let TorchScript's profiling
        executor specialise it (~50 ms, then ~5 ms), after which a window takes ~1 ms."""
        shape = (1, self.card.window.past_steps, len(self.card.columns.inputs))
        for _ in range(passes):
            self._model.predict(np.zeros(shape, dtype=np.float32))
        self.warmed_up = True

    def batch(self, series: Sequence[History]) -> "Forecasts":
        """The forecasts of several series (records or columns each) as arrays, from one
        forward pass."""
        cols, window = self.card.columns, self.card.window
        histories = []
        for i, records in enumerate(series):
            try:
                histories.append(model_inputs(records, cols, window.past_steps))
            except InvalidHistory as e:
                if len(series) == 1:
                    raise
                raise InvalidHistory(
                    f"series {i}: {e.message}", field=f"series[{i}].{e.field}"
                ) from None
        x = self._preprocessor.transform(np.stack(histories), cols.inputs)  # [N, past, inputs]
        pred = self._model.predict(x).map(
            lambda y: self._preprocessor.inverse_transform(y, cols.targets)
        )  # in the data's own units
        stamps = [future_timestamps(r, cols.time, window.future_steps) for r in series]
        return Forecasts(pred, cols.targets, stamps)


class NonFiniteForecast(InvalidHistory):
    """Finite inputs far outside the training range overflowed in the scaler or the network."""

    def __init__(self, series: int, step: int) -> None:
        super().__init__(
            f"the forecast is not a finite number at step {step}: the history's values are "
            f"too far outside the range the model was trained on"
        )
        self.series = series


class Forecasts:
    """Forecasts of n series: the model's arrays, in the data's own units, and the timestamps of
    each series' future rows (None where its history has no regular time column)."""

    def __init__(
        self, pred: Prediction, targets: Sequence[str], stamps: Sequence[list[str] | None]
    ) -> None:
        self._pred = pred
        self._targets = tuple(targets)
        self._stamps = stamps
        # `<target>_q10`, ...: each level of each target, in the order the values come
        names = [level_name(a) for a in pred.levels]
        self._band_names = [f"{t}_{name}" for t in self._targets for name in names]

    def as_json(self, time_key: str) -> list[list[dict[str, Any]]]:
        """Every series' rows as JSON objects ({"step", time_key, target, ...}), built from the
        whole batch's arrays at once. NonFiniteForecast names the first series that overflowed:
        JSON has no NaN, and a null forecast would break the response's schema."""
        values = self._pred.point if self._pred.quantiles is None else self._pred.quantiles
        finite = np.isfinite(values).reshape(len(values), values.shape[1], -1).all(axis=2)
        if not finite.all():
            series, step = np.argwhere(~finite)[0]
            raise NonFiniteForecast(int(series), int(step) + 1)
        point = self._pred.point.tolist()  # [n][future][targets]
        out = []
        for i in range(len(point)):
            rows = []
            for k, (row, stamp) in enumerate(self._values(i, point[i])):
                item: dict[str, Any] = {"step": k + 1}
                if stamp is not None:
                    item[time_key] = stamp
                item.update(row)
                rows.append(item)
            out.append(rows)
        return out

    def _values(
        self, i: int, point: list[list[float]]
    ) -> list[tuple[dict[str, float], str | None]]:
        stamps = self._stamps[i]
        bands = None
        if self._pred.quantiles is not None:  # [future][targets * levels]
            bands = self._pred.quantiles[i].reshape(len(point), -1).tolist()
        out = []
        for k, step in enumerate(point):
            values = dict(zip(self._targets, step, strict=True))
            if bands is not None:
                values.update(zip(self._band_names, bands[k], strict=True))
            out.append((values, stamps[k] if stamps else None))
        return out


class LoadModel:
    """Loads the current version: its card, its preprocessor and the model serving_config.backend
    asks for. "auto" takes the version's ONNX export when onnxruntime is installed (several
    times faster on CPU) and the version has one, else the torch weights."""

    def __init__(
        self,
        settings: Settings,
        store: ArtifactStore,
        torch_loader: ModelLoader,
        onnx_loader: ModelLoader,
        preprocessor_loader: PreprocessorLoader,
        onnx_runtime: bool,
    ) -> None:
        self._settings = settings
        self._store = store
        self._models = _in_order(settings, torch_loader, onnx_loader, onnx_runtime)
        self._weights = [(settings.model_path, torch_loader)]
        self._load_preprocessor = preprocessor_loader

    def __call__(self, version: str | None = None, *, weights: bool = False) -> ServedModel:
        """The current version, or the kept `version` named (ArtifactNotFound when it is not).
        `weights`: its torch weights whatever the backend (what ServedModel.module needs)."""
        s = self._settings
        models = self._weights if weights else self._models
        arts, model_file, load_model = self._first_present(version, models)
        card = read_card(arts.files[paths.card_path(s)], paths.card_path(s))
        pre = self._load_preprocessor(arts.files[s.preprocessor_path], s.preprocessor_path)
        if tuple(pre.columns) != card.columns.scaled:
            raise ArtifactCorrupt(
                f"{s.preprocessor_path}: its columns {list(pre.columns)} do not match the model "
                f"card's {list(card.columns.scaled)}; were they written by different runs?"
            )
        model = load_model(arts.files[model_file], model_file)
        return ServedModel(model, pre, card, arts.version, Path(model_file).name)

    def _first_present(
        self, version: str | None, models: list[tuple[str, ModelLoader]]
    ) -> tuple[ArtifactSet, str, ModelLoader]:
        s = self._settings
        for n, (model_file, load_model) in enumerate(models):
            try:
                wanted = [paths.card_path(s), s.preprocessor_path, model_file]
                arts = self._store.load(wanted, version)
                return arts, model_file, load_model
            except ArtifactNotFound as e:
                if e.field != Path(model_file).name:  # not the model file: the card, say
                    raise
                if n + 1 < len(models):
                    continue  # the version has no such file: the next kind of model
                if model_file != s.model_path:
                    raise ArtifactNotFound(
                        f"{e.message}: export it with `thunder export --format onnx`"
                    ) from None
                raise
        raise ArtifactNotFound("no model file configured")


def read_card(data: bytes, origin: str) -> ModelCard:
    try:
        raw: Any = json.loads(data)
        return ModelCard.from_dict(raw)
    except (ValueError, KeyError, TypeError) as e:
        raise ArtifactCorrupt(f"{origin}: not a valid model card ({e})") from None


def _in_order(
    settings: Settings, torch_loader: ModelLoader, onnx_loader: ModelLoader, onnx_runtime: bool
) -> list[tuple[str, ModelLoader]]:
    """The model files to try, in order of preference, each with its loader."""
    onnx, torch = (paths.onnx_path(settings), onnx_loader), (settings.model_path, torch_loader)
    backend = settings.serving_config.backend
    if backend == "onnx":
        return [onnx]
    if backend == "auto" and onnx_runtime:
        return [onnx, torch]
    return [torch]
