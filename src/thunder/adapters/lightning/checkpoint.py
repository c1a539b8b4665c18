"""The safe checkpoint of a trained network: {format, network hyper-parameters, state_dict},
loaded with torch.load(weights_only=True), so a swapped file cannot run code on load."""

import io
from collections.abc import Callable, Mapping
from typing import TypeVar

import torch

from thunder.adapters.messages import first_line
from thunder.domain.errors import ArtifactCorrupt
from thunder.domain.training import NetworkConfig

FORMAT = "thunder.xlstm.v1"
SCRIPT_FORMAT = "thunder.script.v1"
# the network's keys sit under the prefix of the module that saved the first versions, so every
# published version loads, and a version saved now loads in an older thunder
PREFIX = "net."
T = TypeVar("T")


def save(network: NetworkConfig, state: Mapping[str, torch.Tensor]) -> bytes:
    """`state`: the network's own state dict."""
    buf = io.BytesIO()
    weights = {PREFIX + k: v.cpu() for k, v in state.items()}
    torch.save({"format": FORMAT, "network": network.as_dict(), "state_dict": weights}, buf)
    return buf.getvalue()


def save_program(network: NetworkConfig, program: bytes) -> bytes:
    """A user's network: its hyper-parameters and its traced program (see custom.py)."""
    buf = io.BytesIO()
    torch.save({"format": SCRIPT_FORMAT, "network": network.as_dict(), "script": program}, buf)
    return buf.getvalue()


def load(
    data: bytes,
    origin: str,
    restore: Callable[[NetworkConfig, dict[str, torch.Tensor]], T],
    restore_program: Callable[[NetworkConfig, bytes], T],
) -> T:
    """`restore(network, state_dict)` builds one of thunder's networks, `restore_program`
    a user's traced one; whatever fails in reading the file or in restoring it (a truncated or
    foreign file, weights of another shape) is ArtifactCorrupt."""
    try:
        ckpt = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        fmt = ckpt.get("format") if isinstance(ckpt, dict) else None
        if fmt not in (FORMAT, SCRIPT_FORMAT):
            raise ValueError("unknown format")
        network = NetworkConfig.from_dict(ckpt["network"])
        if fmt == SCRIPT_FORMAT:
            return restore_program(network, bytes(ckpt["script"]))
        state = {k.removeprefix(PREFIX): v for k, v in ckpt["state_dict"].items()}
        return restore(network, state)
    except Exception as e:  # torch raises many kinds on a truncated or foreign file
        raise ArtifactCorrupt(
            f"{origin}: not a thunder model checkpoint ({first_line(e)})"
        ) from None
