"""thunder: out-of-core time-series forecasting, from Python, the CLI or HTTP.

    import thunder
    cfg = thunder.load_config("config.json")
    run = thunder.train("big.csv", cfg, chunk_size=50_000)
    model = thunder.load(cfg)
    model.predict(history_df)

Why this file is not empty, when STYLE.md keeps every package __init__ empty so that importing
thunder never drags in torch: `thunder.train` is the API users write, so the package root must
know its public names. It holds only the table of where each lives; a name's module is imported
on first use (PEP 562), so `import thunder` stays as cheap as before (no torch, pandas or
Lightning), and `thunder.load_config` loads no more than `thunder --help` does.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time, __getattr__ below
    from thunder.adapters.lightning.module import ThunderModule
    from thunder.app.evaluate import Evaluated
    from thunder.app.report import RunReport
    from thunder.app.settings import Settings
    from thunder.domain.errors import ThunderError
    from thunder.entrypoints.library.config import load_config
    from thunder.entrypoints.library.model import TrainedModel, load
    from thunder.entrypoints.library.training import TrainingRun, train

# public name -> the module that defines it
_LAZY = {
    "load_config": "thunder.entrypoints.library.config",
    "train": "thunder.entrypoints.library.training",
    "TrainingRun": "thunder.entrypoints.library.training",
    "load": "thunder.entrypoints.library.model",
    "TrainedModel": "thunder.entrypoints.library.model",
    "Evaluated": "thunder.app.evaluate",
    "RunReport": "thunder.app.report",
    "Settings": "thunder.app.settings",
    "ThunderError": "thunder.domain.errors",
    "ThunderModule": "thunder.adapters.lightning.module",
}

__all__ = [
    "Evaluated",
    "RunReport",
    "Settings",
    "ThunderError",
    "ThunderModule",
    "TrainedModel",
    "TrainingRun",
    "load",
    "load_config",
    "train",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'thunder' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # found once; later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)  # the public names (what an IDE completes), loaded or not
