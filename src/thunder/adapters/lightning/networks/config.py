"""The network's hyper-parameters, shared by every architecture: plain values, saved in checkpoints."""

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

ARCHITECTURES = ("xlstm", "lstm", "lstm_attention", "tft")


@dataclass(frozen=True)
class NetworkConfig:
    num_features: int
    num_targets: int
    past_steps: int
    future_steps: int
    hidden_size: int = 64
    num_layers: int = 2
    num_heads: int = 4
    dropout: float = 0.2
    block_pattern: str = "ms"
    # positions of the targets among the input features; set when targets are fed as inputs, so
    # the window's own level and scale can be removed and restored (RevIN-style)
    target_inputs: tuple[int, ...] | None = None
    # quantile levels, ascending (0.5 among them); empty: one point forecast trained with MSE
    quantiles: tuple[float, ...] = ()
    # which network maps the window to the forecast (checkpoints without the key are xLSTM's)
    architecture: str = "xlstm"

    def as_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["target_inputs"] = list(self.target_inputs) if self.target_inputs is not None else None
        d["quantiles"] = list(self.quantiles)
        return d

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> "NetworkConfig":
        d = dict(raw)
        if d.get("target_inputs") is not None:
            d["target_inputs"] = tuple(d["target_inputs"])
        d["quantiles"] = tuple(d.get("quantiles") or ())
        d.setdefault("architecture", "xlstm")
        if d["architecture"] not in ARCHITECTURES:
            raise ValueError(f"unknown architecture {d['architecture']!r}")
        return cls(**d)

    @property
    def outputs(self) -> int:
        """Values per (future step, target): one per quantile level, or the point forecast."""
        return max(1, len(self.quantiles))

    def blocks(self) -> str:
        """Block kinds for each layer: the pattern repeated to num_layers ('ms' -> 'msms...')."""
        return (self.block_pattern * self.num_layers)[: self.num_layers]
