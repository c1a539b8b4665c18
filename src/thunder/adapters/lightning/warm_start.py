"""The weights a run starts from with `chunk --init-from`: a published model of thunder's own
networks, of the very network the run trains (dropout may differ: it shapes no weight)."""

from typing import Any, cast

import torch

from thunder.adapters.lightning import checkpoint
from thunder.domain.errors import ConfigError
from thunder.domain.training import CUSTOM, NetworkConfig

# NetworkConfig's fields that shape the weights, with the config key a user changes for each
SAME = {
    "architecture": "model_config.architecture",
    "num_features": "model_config.num_features",
    "num_targets": "preprocessing_config.target_variables",
    "past_steps": "split_config.past_steps",
    "future_steps": "model_config.future_steps",
    "hidden_size": "model_config.hidden_size",
    "num_layers": "model_config.num_layers",
    "num_heads": "model_config.num_attention_heads",
    "block_pattern": "model_config.block_pattern",
    "target_inputs": "preprocessing_config.use_target_as_feature",
    "quantiles": "model_config.quantiles",
}


def start_weights(data: bytes, network: NetworkConfig, source: str) -> dict[str, torch.Tensor]:
    """The state dict of the model in `data`; ConfigError naming the first field in which its
    network differs from `network`, or when it is a user's traced network."""
    theirs, state = checkpoint.load(data, source, _weights, _no_weights)
    if state is None or network.architecture == CUSTOM:
        raise ConfigError(
            f"--init-from {source}: warm starts are for thunder's own networks; a user's "
            f"network (Python API module=) starts from its own weights",
            field="init_from",
        )
    for name, key in SAME.items():
        there, here = getattr(theirs, name), getattr(network, name)
        if there != here:
            raise ConfigError(
                f"--init-from {source}: {key} differs ({name} {_shown(there)} there, "
                f"{_shown(here)} here); a warm start needs the same network",
                field=key,
            )
    return cast(dict[str, torch.Tensor], state)


def _weights(network: NetworkConfig, state: dict[str, torch.Tensor]) -> tuple[NetworkConfig, Any]:
    return network, state


def _no_weights(network: NetworkConfig, program: bytes) -> tuple[NetworkConfig, Any]:
    return network, None


def _shown(value: object) -> str:
    return repr(list(value)) if isinstance(value, tuple) else repr(value)
