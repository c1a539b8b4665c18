"""Predictors: what runs around the network at validation, test and predict.

ThunderModule calls `predictor.prepare(x)` on a batch's inputs before the network and
`predictor.invert(output)` on what the network returns, so `predict_step` answers in the units a
user reads. Training never goes through a predictor: the loss is computed on what the network
itself emits. Any object with these two methods is a predictor (`Predictor` is a
`typing.Protocol`: nothing to inherit); `Identity` is the default, and `Standardised` is
thunder's fitted scaler.

A predictor for a network trained on log-prices:

```python
import torch
from torch import Tensor, nn

from thunder import ThunderModule


class LogPrices:
    def prepare(self, x: Tensor) -> Tensor:
        return torch.log(x)  # the inputs as the network was trained on them

    def invert(self, y: Tensor) -> Tensor:
        return torch.exp(y)  # the forecast back in prices


net = nn.Linear(8, 1)
module = ThunderModule(
    net,
    nn.MSELoss(),
    optimizer=torch.optim.Adam(net.parameters()),
    predictor=LogPrices(),
)
```

`prepare` receives the inputs where the loader put them (on the CPU for a large predict batch);
ThunderModule moves its result to the network's device.
"""

from thunder.adapters.lightning.predictors import Identity, Predictor, Standardised

__all__ = ["Identity", "Predictor", "Standardised"]
