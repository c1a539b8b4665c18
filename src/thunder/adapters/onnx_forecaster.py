"""Predictor port over ONNX Runtime: serves a model exported by `thunder export --format onnx`.

The file carries the network's config in its metadata (quantile levels, shapes), so it needs
nothing beside it; inputs and outputs are the scaled windows of the torch model, and the
quantile levels are rearranged the same way.
"""

import json
import os
from typing import Any

import numpy as np

from thunder.domain.errors import ArtifactCorrupt
from thunder.domain.values import FloatArray, Prediction

FORMAT = "thunder.xlstm.onnx.v1"
META_FORMAT, META_NETWORK = "thunder.format", "thunder.network"
META_QUANTIZED = "thunder.quantized"  # "int8" when exported with --quantize int8
PREDICT_BATCH = 1024  # as the torch model: bounded memory for the mLSTM's gate matrices
# from this many windows on, a request runs on every core of the machine: a 1000-window batch
# takes ~160 ms on one core and ~115 ms on two, while a single window would only pay for the
# hand-over between threads
LARGE_BATCH = 128


class OnnxForecaster:
    def __init__(self, session: Any, network: dict[str, Any], wide: Any = None) -> None:
        self._session = session
        self._wide = wide  # the same model on every core, for large batches (None: no other)
        self.network = network
        self._levels = tuple(float(a) for a in network.get("quantiles") or ())

    @classmethod
    def from_bytes(cls, data: bytes, origin: str = "model.onnx") -> "OnnxForecaster":
        import onnxruntime as ort  # the `onnx` extra

        # `serve --workers N` sets OMP_NUM_THREADS to cores / N; the session keeps to it too
        threads = int(os.environ.get("OMP_NUM_THREADS", "0") or 0)
        cores = os.cpu_count() or 1
        try:
            session = _session(ort, data, threads, spin=True)
            # no spinning: its idle threads must not take the cores the other workers use
            wide = _session(ort, data, cores, spin=False) if 0 < threads < cores else None
            meta = session.get_modelmeta().custom_metadata_map
            if meta.get(META_FORMAT) != FORMAT:
                raise ValueError("no thunder metadata")
            network = json.loads(meta[META_NETWORK])
        except Exception as e:  # onnxruntime raises its own kinds on a foreign or damaged file
            text = str(e).strip().splitlines()
            reason = text[0][:200] if text else type(e).__name__
            raise ArtifactCorrupt(f"{origin}: not a thunder ONNX model ({reason})") from None
        return cls(session, network, wide)

    def predict(self, x: FloatArray) -> Prediction:
        inputs = np.ascontiguousarray(x, dtype=np.float32)
        session = (
            self._wide if self._wide is not None and len(inputs) >= LARGE_BATCH else self._session
        )
        parts = [
            session.run(None, {"x": inputs[i : i + PREDICT_BATCH]})[0]
            for i in range(0, max(len(inputs), 1), PREDICT_BATCH)
        ]
        return Prediction.from_outputs(np.concatenate(parts), self._levels)


def _session(ort: Any, data: bytes, threads: int, *, spin: bool) -> Any:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
