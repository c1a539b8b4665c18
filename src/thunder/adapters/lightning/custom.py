"""A user's own ThunderModule trained on thunder's windows, and the version it publishes.

The architecture reads [batch, past_steps, num_features] and returns [batch, future_steps,
num_targets], in scaled units like every window thunder cuts; its shape is checked on one
dummy batch before any data is read. A published version cannot rebuild the user's class, so it
keeps the trained network as a torch.export program beside the network's hyper-parameters:
`thunder serve` and `thunder.load` run it without the user's code. A program holds a graph of
torch operations and its weights, not Python, so loading one runs no code of its author's
choosing.
"""

import io

import pytorch_lightning as pl
import torch
from torch import Tensor, nn

from thunder.adapters.lightning.module import ThunderModule
from thunder.adapters.messages import first_line
from thunder.domain.errors import ConfigError, InvalidArgument
from thunder.domain.training import NetworkConfig


class PointForecast(nn.Module):
    """[B, future, T] forecasts as thunder's [B, future, T, 1] point forecast."""

    def __init__(self, architecture: nn.Module) -> None:
        super().__init__()
        self.architecture = architecture

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.architecture(x)  # [B, future, T]
        return out[..., None]  # [B, future, T, 1]


def checked_module(module: object, network: NetworkConfig) -> ThunderModule:
    """`module` if it is a ThunderModule whose architecture maps thunder's windows to the
    forecast shape; ConfigError naming both shapes otherwise."""
    if not isinstance(module, ThunderModule):
        raise InvalidArgument(
            f"module must be a thunder.ThunderModule, got {type(module).__name__}",
            field="module",
        )
    if network.quantiles:
        raise ConfigError(
            f"a network of your own forecasts one value per step and target; remove "
            f"model_config.quantiles {list(network.quantiles)} to train it",
            field="model_config.quantiles",
        )
    x = torch.zeros(2, network.past_steps, network.num_features)  # [2, past, F]
    want = (2, network.future_steps, network.num_targets)
    arch, training = module.architecture, module.architecture.training
    try:
        with torch.no_grad():
            out = arch.eval()(x)
    except Exception as e:  # the user's forward pass: whatever it raises, say where
        raise ConfigError(
            f"the architecture failed on a batch of shape {list(x.shape)} "
            f"[batch, past_steps, num_features]: {type(e).__name__}: {e}",
            field="module",
        ) from None
    finally:
        arch.train(training)
    shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
    if shape != want:
        raise ConfigError(
            f"the architecture maps [batch, past_steps, num_features] = {list(x.shape)} to "
            f"{list(shape) if isinstance(shape, tuple) else shape}; thunder needs "
            f"[batch, future_steps, num_targets] = {list(want)}",
            field="module",
        )
    return module


def user_callbacks(callbacks: tuple[object, ...]) -> list[pl.Callback]:
    for i, callback in enumerate(callbacks):
        if not isinstance(callback, pl.Callback):
            raise InvalidArgument(
                f"callbacks[{i}] must be a pytorch_lightning Callback, got "
                f"{type(callback).__name__}",
                field=f"callbacks[{i}]",
            )
    return [c for c in callbacks if isinstance(c, pl.Callback)]  # every one: checked above


def program_bytes(architecture: nn.Module, network: NetworkConfig) -> bytes:
    """The trained network as a torch.export program (the batch axis dynamic)."""
    example = torch.zeros(2, network.past_steps, network.num_features)  # [2, past, F]
    batch = torch.export.Dim("batch", min=1, max=2**20)
    forecast = PointForecast(architecture).eval()
    try:
        with torch.no_grad():
            program = torch.export.export(forecast, (example,), dynamic_shapes={"x": {0: batch}})
    except Exception as e:  # what torch.export cannot capture, e.g. data-dependent control flow
        raise ConfigError(
            f"the trained {type(architecture).__name__} cannot be saved as a program "
            f"(torch.export): {first_line(e)}",
            field="module",
        ) from None
    buf = io.BytesIO()
    torch.export.save(program, buf)
    return buf.getvalue()


class Program(nn.Module):
    """A published user's network as a module: [B, past, F] -> [B, future, T, 1]. It moves
    with .to() like any module; it runs as exported (inference), frozen."""

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self.program = torch.export.load(io.BytesIO(data)).module()
        self.program.requires_grad_(False)  # frozen: the ONNX export folds the weights in

    def train(self, mode: bool = True) -> "Program":
        # the exported graph refuses train()/eval(), which Lightning calls on every module it
        # runs; it behaves as exported whatever the flag says, so only the flag changes
        self.training = mode
        return self

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.program(x)
        return out


def load_program(data: bytes) -> nn.Module:
    """The published network, runnable without its class."""
    return Program(data)
