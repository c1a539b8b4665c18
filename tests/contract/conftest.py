"""Shared by the contract tests: each port's assertions run against its fake and its adapter.

The training hyper-parameter types are imported here only, so a move of them is a one-line fix.
"""

from tests.unit.conftest import tiny_network as unit_tiny_network
from thunder.domain.training import NetworkConfig, TrainingOptions

__all__ = ["NetworkConfig", "TrainingOptions", "tiny_network"]


def tiny_network(quantiles: tuple[float, ...] = ()) -> NetworkConfig:
    """Small enough to train a few steps in about a second: 2 inputs (the target first)."""
    return unit_tiny_network(
        past_steps=8,
        future_steps=2,
        hidden_size=8,
        num_layers=1,
        block_pattern="m",
        quantiles=quantiles,
    )
