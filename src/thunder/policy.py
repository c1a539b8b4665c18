"""Learning-rate policies, written before the optimizers exist.

A policy takes only its own parameters; ThunderModule binds it to its optimizer when Lightning
asks for the optimizers, and puts its `interval` ("epoch", the default, or "step") into
Lightning's scheduler config. The counter t starts at 0: with interval="epoch" it is Lightning's
`current_epoch`, with interval="step" the optimizer step.

```python
from thunder.policy import Cosine, Multiply, Switch, WarmUp

Switch({1: 0.001})                  # epoch 0 at the optimizer's LR, 0.001 from epoch 1 on
Multiply({10: 0.1, 20: 0.1})        # base, base/10 from epoch 10, base/100 from epoch 20
Cosine(100, min_lr=1e-5, warmup=5)  # ramp up over 5 epochs, half a cosine down to 1e-5 at 100
WarmUp(500, interval="step", then=Cosine(10_000, interval="step"))
StepDecay(10, gamma=0.5)            # halve every 10 epochs, without end
OneCycle(1000, max_lr=0.01, interval="step")  # up to 0.01 at step 300, then down to base/1e4
```

Relative policies (Multiply, WarmUp, Cosine's shape) scale each param group's own initial LR;
absolute values (Switch's LRs, Formula's result, Cosine's min_lr) are set on every group alike.

Outside ThunderModule, `policy.bind(optimizer)` returns a bound copy (a torch `LRScheduler`:
`step()`, `get_last_lr()`, `state_dict()`); the policy as written stays unbound, so one policy
can be bound to several optimizers. `policy.lr_at(t, base)` previews the LR without binding.
"""

from thunder.adapters.lightning.policy import (
    INTERVALS,
    Cosine,
    Formula,
    Multiply,
    OneCycle,
    Policy,
    StepDecay,
    Switch,
    WarmUp,
)

__all__ = [
    "INTERVALS",
    "Cosine",
    "Formula",
    "Multiply",
    "OneCycle",
    "Policy",
    "StepDecay",
    "Switch",
    "WarmUp",
]
