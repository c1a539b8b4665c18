"""Use case: search the network's hyper-parameters. Each trial trains as `chunk` does, on the
same data with its own config, and is scored by its best val loss; the test split stays unseen
and nothing is published. The best config is written as a config.json for `chunk`."""

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from thunder.app import paths
from thunder.app.settings import Settings
from thunder.app.train import TrainFromChunks
from thunder.domain.errors import ConfigError, NotEnoughData, ThunderError
from thunder.domain.ports import ArtifactStore, ChunkSource, HyperparameterSearch, Trial
from thunder.domain.tuning import Param, TrialOutcome, TrialPruned

# a trial's settings -> the training use case built with them (the container makes it)
TrainerFactory = Callable[[Settings], TrainFromChunks]
SearchOpener = Callable[[str, str, int], HyperparameterSearch]  # storage, study name, seed

HIDDEN_SIZES = (16, 32, 64, 128)  # rounded up to multiples of num_attention_heads
BLOCK_PATTERNS = ("m", "s", "ms", "mms")
NUM_LAYERS = (1, 4)
DROPOUT = (0.0, 0.5)
LEARNING_RATE = (1e-4, 1e-2)  # drawn on a log scale
NETWORK_PARAMS = ("hidden_size", "num_layers", "block_pattern", "dropout", "learning_rate")


@dataclass(frozen=True)
class Tuned:
    trials: list[TrialOutcome]  # every trial of the study, oldest first
    best: TrialOutcome
    ran: int  # trials this call started
    output: str
    storage: str
    study: str


class TuneHyperparameters:
    def __init__(
        self,
        settings: Settings,
        open_search: SearchOpener,
        trainer_factory: TrainerFactory,
        store: ArtifactStore,
    ) -> None:
        self._settings = settings
        self._open_search = open_search
        self._trainer_for = trainer_factory
        self._store = store

    def __call__(
        self,
        source: ChunkSource,
        *,
        trials: int,
        output: str,
        timeout: float | None = None,
        study: str = "thunder",
        storage: str | None = None,
        progress: bool = False,
    ) -> Tuned:
        """Run trials until the study has `trials` finished ones (a rerun continues a stored
        study: its finished trials count), or until `timeout` seconds have passed; the best
        config goes to `output` (the CLI's default: paths.tuned_config). `progress` shows each
        trial's passes and epochs."""
        s = self._settings
        if s.preprocessing_config.split_config.val_ratio == 0:
            raise ConfigError(
                "tune scores trials by their val loss: preprocessing_config.split_config."
                "val_ratio is 0",
                field="preprocessing_config.split_config.val_ratio",
            )
        where = storage or paths.tune_storage(s)
        search = self._open_search(where, study, s.training_config.seed)
        todo = trials - sum(t.finished for t in search.trials())
        if todo > 0:
            search.run(
                lambda trial: self._objective(trial, search, source, progress), todo, timeout
            )
        outcomes = search.trials()
        complete = [t for t in outcomes if t.state == "complete" and t.value is not None]
        if not complete:
            raise ThunderError(f"study '{study}' in {where} has no finished trial yet")
        best = min(complete, key=lambda t: t.value if t.value is not None else math.inf)
        tuned = with_params(s, best.params)
        config = tuned.shareable(exclude_unset=True)
        self._store.write_file(output, (json.dumps(config, indent=2) + "\n").encode())
        return Tuned(outcomes, best, max(todo, 0), output, where, study)

    def _objective(
        self, trial: Trial, search: HyperparameterSearch, source: ChunkSource, progress: bool
    ) -> float:
        params = draw(trial, self._settings)
        for old in search.trials():  # the sampler drew a point already scored: reuse its score
            if old.state == "complete" and old.value is not None and dict(old.params) == params:
                return old.value
        pruned = False

        def on_epoch(epoch: int, val_loss: float) -> bool:
            nonlocal pruned
            trial.report(val_loss, epoch)
            pruned = trial.should_prune()
            return pruned

        trainer = self._trainer_for(with_params(self._settings, params))
        run = trainer(source, progress=progress, on_epoch=on_epoch, validate_only=True)
        fit = run.train
        if pruned:
            raise TrialPruned
        if fit.best_val_loss is None:
            raise NotEnoughData(
                f"{source.name}: trial {trial.number} got no val loss: the val split has no "
                f"windows of past_steps {params['past_steps']}, or training_config.max_steps "
                f"ended the run before its first epoch (validation runs after each epoch)"
            )
        return fit.best_val_loss


def draw(trial: Trial, settings: Settings) -> dict[str, Param]:
    """The search space: the network's size and kind, dropout, learning rate and the input
    window (half, the same as or twice the configured past_steps)."""
    heads = settings.network.num_attention_heads
    past = settings.preprocessing_config.split_config.past_steps
    sizes = sorted({heads * math.ceil(h / heads) for h in HIDDEN_SIZES})
    return {
        "hidden_size": trial.choose("hidden_size", sizes),
        "num_layers": trial.suggest_int("num_layers", *NUM_LAYERS),
        # the xLSTM's alone; other architectures keep the default (settings reject a change)
        "block_pattern": (
            trial.choose("block_pattern", BLOCK_PATTERNS)
            if settings.network.architecture == "xlstm"
            else settings.network.block_pattern
        ),
        "dropout": trial.suggest_float("dropout", *DROPOUT),
        "learning_rate": trial.suggest_float("learning_rate", *LEARNING_RATE, log=True),
        "past_steps": trial.choose("past_steps", sorted({max(1, past // 2), past, past * 2})),
    }


def with_params(settings: Settings, params: Any) -> Settings:
    """`settings` with a trial's values put where config.json keeps them."""
    net = settings.network.model_copy(update={k: params[k] for k in NETWORK_PARAMS})
    pre = settings.preprocessing_config
    split = pre.split_config.model_copy(update={"past_steps": params["past_steps"]})
    update = {
        "network": net,
        "preprocessing_config": pre.model_copy(update={"split_config": split}),
    }
    return settings.model_copy(update=update)
