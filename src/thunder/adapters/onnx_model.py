"""InferenceModel port over ONNX Runtime: serves a model exported by `thunder export --format onnx`.

The file carries the network's config in its metadata (quantile levels, shapes), so it needs
nothing beside it; inputs and outputs are the scaled windows of the torch model, and the
quantile levels are rearranged the same way.
"""

import json
import os
from typing import Any

import numpy as np

from thunder.adapters import extras
from thunder.adapters.messages import first_line
from thunder.adapters.slices import run_sliced
from thunder.domain.errors import ArtifactCorrupt
from thunder.domain.values import FloatArray, Prediction

FORMAT = "thunder.xlstm.onnx.v1"
META_FORMAT, META_NETWORK = "thunder.format", "thunder.network"
META_QUANTIZED = "thunder.quantized"  # "int8" when exported with --quantize int8


class OnnxModel:
    def __init__(self, session: Any, network: dict[str, Any], threads: int = 0) -> None:
        self._session = session
        self._threads = threads  # intra-op threads of one run (0: onnxruntime's default, all)
        self.network = network
        self._levels = tuple(float(a) for a in network.get("quantiles") or ())

    @classmethod
    def from_bytes(cls, data: bytes, origin: str = "model.onnx") -> "OnnxModel":
        extras.require("serve --backend onnx", "onnx", "onnxruntime")
        import onnxruntime as ort

        options = ort.SessionOptions()
        # `serve --workers N` sets OMP_NUM_THREADS to cores / N; the session keeps to it too
        threads = int(os.environ.get("OMP_NUM_THREADS", "0") or 0)
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        try:
            session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
            meta = session.get_modelmeta().custom_metadata_map
            if meta.get(META_FORMAT) != FORMAT:
                raise ValueError("no thunder metadata")
            network = json.loads(meta[META_NETWORK])
        except Exception as e:  # onnxruntime raises its own kinds on a foreign or damaged file
            reason = first_line(e)
            raise ArtifactCorrupt(f"{origin}: not a thunder ONNX model ({reason})") from None
        return cls(session, network, threads or (os.cpu_count() or 1))

    def predict(self, x: FloatArray) -> Prediction:
        inputs = np.ascontiguousarray(x, dtype=np.float32)
        if len(inputs) == 0:
            net = self.network
            return Prediction.empty(net["future_steps"], net["num_targets"], self._levels)
        return Prediction.from_outputs(run_sliced(inputs, self._run, self._threads), self._levels)

    def _run(self, x: FloatArray) -> FloatArray:
        result: FloatArray = self._session.run(None, {"x": x})[0]
        return result
