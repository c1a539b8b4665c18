"""The architectures by name: model_config.architecture -> a WindowNetwork."""

from thunder.adapters.lightning.networks.base import WindowNetwork
from thunder.adapters.lightning.networks.lstm import LSTMNetwork
from thunder.adapters.lightning.networks.lstm_attention import LSTMAttentionNetwork
from thunder.adapters.lightning.networks.tft import TFTNetwork
from thunder.adapters.lightning.networks.xlstm import XLSTMNetwork
from thunder.adapters.lightning.networks.xlstm_mixer import XLSTMMixerNetwork
from thunder.domain.training import NetworkConfig

NETWORKS: dict[str, type[WindowNetwork]] = {
    "xlstm": XLSTMNetwork,
    "lstm": LSTMNetwork,
    "lstm_attention": LSTMAttentionNetwork,
    "tft": TFTNetwork,
    "xlstm_mixer": XLSTMMixerNetwork,
}


def build(cfg: NetworkConfig) -> WindowNetwork:
    return NETWORKS[cfg.architecture](cfg)
