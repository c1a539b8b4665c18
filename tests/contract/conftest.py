"""Shared by the contract tests: each port's assertions run against its fake and its adapter.

The training hyper-parameter types are imported here only, so a move of them is a one-line fix.
"""

from thunder.domain.training import NetworkConfig, TrainingOptions

__all__ = ["NetworkConfig", "TrainingOptions", "tiny_network"]


def tiny_network(quantiles: tuple[float, ...] = ()) -> NetworkConfig:
    """Small enough to train a few steps in about a second: 2 inputs (the target first)."""
    return NetworkConfig(
        num_features=2,
        num_targets=1,
        past_steps=8,
        future_steps=2,
        hidden_size=8,
        num_layers=1,
        num_heads=2,
        dropout=0.0,
        block_pattern="m",
        target_inputs=(0,),
        quantiles=quantiles,
    )
