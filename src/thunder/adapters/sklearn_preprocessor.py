"""Preprocessor port over scikit-learn's StandardScaler, fitted with partial_fit chunk by chunk.

Stored as JSON parameters, never as a pickle: loading a served artifact must not run code that
someone could have swapped in (whatever the file name's suffix says).
"""

import json
from collections.abc import Sequence

import numpy as np
from sklearn.preprocessing import StandardScaler

from thunder.domain.errors import ArtifactCorrupt, NotFitted
from thunder.domain.values import FloatArray

FORMAT = "thunder.standard_scaler.v1"


class SklearnPreprocessor:
    def __init__(self, columns: Sequence[str]) -> None:
        self._columns = tuple(columns)
        self._scaler = StandardScaler()

    @property
    def columns(self) -> Sequence[str]:
        return self._columns

    def partial_fit(self, values: FloatArray) -> None:
        self._scaler.partial_fit(values.astype(np.float64))

    def transform(self, values: FloatArray, columns: Sequence[str]) -> FloatArray:
        mean, scale = self._params(columns)
        return np.asarray((values.astype(np.float64) - mean) / scale, dtype=np.float32)

    def inverse_transform(self, values: FloatArray, columns: Sequence[str]) -> FloatArray:
        mean, scale = self._params(columns)
        return np.asarray(values.astype(np.float64) * scale + mean, dtype=np.float32)

    def affine(self, columns: Sequence[str]) -> tuple[FloatArray, FloatArray]:
        mean, scale = self._params(columns)
        return mean.astype(np.float32), scale.astype(np.float32)

    def _params(self, columns: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """The fitted mean and scale of `columns`, in that order (the scaler's own arrays)."""
        if not hasattr(self._scaler, "scale_"):
            raise NotFitted("the preprocessor has not been fitted")
        idx = [self._columns.index(c) for c in columns]
        return self._scaler.mean_[idx], self._scaler.scale_[idx]

    def to_bytes(self) -> bytes:
        if not hasattr(self._scaler, "scale_"):
            raise NotFitted("the preprocessor has not been fitted")
        s = self._scaler
        state = {
            "format": FORMAT,
            "columns": list(self._columns),
            "mean": s.mean_.tolist(),
            "var": s.var_.tolist(),
            "scale": s.scale_.tolist(),
            "n_samples_seen": int(np.max(s.n_samples_seen_)),
        }
        return json.dumps(state, indent=1).encode()

    @classmethod
    def from_bytes(cls, data: bytes, origin: str = "preprocessor") -> "SklearnPreprocessor":
        try:
            state = json.loads(data)
            if state.get("format") != FORMAT:
                raise ValueError(f"unknown format {state.get('format')!r}")
            pre = cls(state["columns"])
            n = len(pre._columns)
            arrays = {k: np.asarray(state[k], dtype=np.float64) for k in ("mean", "var", "scale")}
            if any(a.shape != (n,) for a in arrays.values()):
                raise ValueError("parameter lengths do not match the columns")
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise ArtifactCorrupt(f"{origin}: not a thunder preprocessor ({e})") from None
        pre._scaler.mean_ = arrays["mean"]
        pre._scaler.var_ = arrays["var"]
        pre._scaler.scale_ = arrays["scale"]
        pre._scaler.n_samples_seen_ = int(state["n_samples_seen"])
        pre._scaler.n_features_in_ = n
        return pre
