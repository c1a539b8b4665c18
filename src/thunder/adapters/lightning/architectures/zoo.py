"""The architectures by name: model_config.architecture -> a WindowForecaster."""

from thunder.adapters.lightning.architectures.base import WindowForecaster
from thunder.adapters.lightning.architectures.config import NetworkConfig
from thunder.adapters.lightning.architectures.lstm import LSTMForecaster
from thunder.adapters.lightning.architectures.lstm_attention import LSTMAttentionForecaster
from thunder.adapters.lightning.architectures.tft import TFTForecaster
from thunder.adapters.lightning.network import XLSTMForecaster

NETWORKS: dict[str, type[WindowForecaster]] = {
    "xlstm": XLSTMForecaster,
    "lstm": LSTMForecaster,
    "lstm_attention": LSTMAttentionForecaster,
    "tft": TFTForecaster,
}


def build(cfg: NetworkConfig) -> WindowForecaster:
    return NETWORKS[cfg.architecture](cfg)
