"""A trained network made fast to run: traced with TorchScript for predict(), or exported to
ONNX (optionally with int8 weights) for `thunder export` and onnxruntime serving."""

import json
import logging
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from thunder.adapters import extras
from thunder.adapters.onnx_model import FORMAT as ONNX_FORMAT
from thunder.adapters.onnx_model import META_FORMAT, META_NETWORK, META_QUANTIZED
from thunder.domain.training import NetworkConfig

InferenceNet = Callable[[torch.Tensor], torch.Tensor]


def traced(net: nn.Module, window: torch.Size) -> InferenceNet:
    """The network traced with TorchScript, frozen and optimised for inference: no Python per
    op (the sLSTM loop is unrolled), weights folded in as constants, linear layers on oneDNN.
    One window: 0.75 ms ("mm") to 1.4 ms ("ms") on one thread, against 2.9-3.6 ms eager."""
    example = torch.zeros(1, *window)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TracerWarnings about shapes: batch stays dynamic
        trace = torch.jit.trace(net.eval(), example, check_trace=False)  # type: ignore[no-untyped-call]
        return torch.jit.optimize_for_inference(torch.jit.freeze(trace))


def to_onnx(net: nn.Module, cfg: NetworkConfig, int8: bool = False) -> bytes:
    """The network as ONNX (opset 17, the batch axis dynamic): the function predict() runs,
    with the network's config in the file's metadata, so the file describes itself.
    `int8`: weights of the matrix products quantised to int8 by onnxruntime's dynamic
    quantisation (activations quantised on the fly), a smaller file and cheaper products."""
    extras.require("export --format onnx", "onnx", "onnx")
    if int8:  # onnxruntime's quantiser
        extras.require("export --quantize int8", "onnx", "onnxruntime")
    import onnx

    example = torch.zeros(1, cfg.past_steps, cfg.num_features)
    with (
        tempfile.TemporaryDirectory() as tmp,
        torch.no_grad(),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")  # TracerWarnings about shapes: batch stays dynamic
        path = Path(tmp) / "model.onnx"
        torch.onnx.export(
            net.eval(),
            (example,),
            path,
            dynamo=False,  # the TorchScript exporter: no onnxscript needed, the loop unrolled
            opset_version=17,
            input_names=["x"],
            output_names=["y"],
            dynamic_axes={"x": {0: "windows"}, "y": {0: "windows"}},
        )
        if int8:
            path = _quantized(path, Path(tmp) / "model.int8.onnx")
        model = onnx.load(path)
    meta = {META_FORMAT: ONNX_FORMAT, META_NETWORK: json.dumps(cfg.as_dict())}
    if int8:
        meta[META_QUANTIZED] = "int8"
    onnx.helper.set_model_props(model, meta)
    return bytes(model.SerializeToString())


def _quantized(path: Path, out: Path) -> Path:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level, root.level = root.level, logging.ERROR  # its advice goes to the root logger
    try:
        quantize_dynamic(path, out, weight_type=QuantType.QInt8)
    finally:
        root.setLevel(level)
    return out
