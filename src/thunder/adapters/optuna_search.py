"""HyperparameterSearch on an Optuna study kept in a database (SQLite by default), so an
interrupted search resumes. Needs the `tune` extra; optuna is imported only here."""

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from thunder.adapters import extras
from thunder.domain.errors import ConfigError
from thunder.domain.ports import Trial
from thunder.domain.tuning import Param, TrialOutcome, TrialPruned

_STATES = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed", "RUNNING": "running"}


class _OptunaTrial:
    def __init__(self, trial: Any) -> None:
        self._trial = trial

    @property
    def number(self) -> int:
        return int(self._trial.number)

    def choose(self, name: str, choices: Sequence[Param]) -> Param:
        value: Param = self._trial.suggest_categorical(name, list(choices))
        return value

    def suggest_int(self, name: str, low: int, high: int) -> int:
        return int(self._trial.suggest_int(name, low, high))

    def suggest_float(self, name: str, low: float, high: float, *, log: bool = False) -> float:
        return float(self._trial.suggest_float(name, low, high, log=log))

    def report(self, value: float, epoch: int) -> None:
        self._trial.report(value, epoch)

    def should_prune(self) -> bool:
        return bool(self._trial.should_prune())


class OptunaSearch:
    """TPE sampling seeded with `seed` plus the number of trials the study already has: a run is
    reproducible, and a resumed one draws new points instead of replaying the first ones.
    The median pruner stops a trial whose val loss after an epoch is worse than the median of
    earlier trials at that epoch (from the second epoch on, once two trials finished)."""

    def __init__(self, storage: str, study: str, seed: int) -> None:
        extras.require("tune", "tune", "optuna")
        import optuna
        from sqlalchemy.exc import SQLAlchemyError

        optuna.logging.set_verbosity(optuna.logging.ERROR)  # thunder says what failed
        if storage.startswith("sqlite:///"):  # SQLite creates the file, not its folder
            Path(storage.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        logging.getLogger("alembic").setLevel(logging.WARNING)
        self._optuna = optuna
        try:
            self._study = optuna.create_study(
                storage=storage,
                study_name=study,
                direction="minimize",
                load_if_exists=True,
                pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1),
            )
        except (SQLAlchemyError, ValueError, ImportError) as e:
            raise ConfigError(f"--storage {storage}: cannot open the study ({e})") from None
        if self._study.direction != optuna.study.StudyDirection.MINIMIZE:
            raise ConfigError(f"study '{study}' in {storage} maximises; thunder's minimises")
        self._study.sampler = optuna.samplers.TPESampler(seed=seed + len(self._study.trials))

    def trials(self) -> list[TrialOutcome]:
        return [_outcome(t) for t in self._study.get_trials(deepcopy=False)]

    def run(self, objective: Callable[[Trial], float], trials: int, timeout: float | None) -> None:
        def optuna_objective(trial: Any) -> float:
            try:
                return objective(_OptunaTrial(trial))
            except TrialPruned:
                raise self._optuna.TrialPruned() from None

        # errors end the search (a bad config fails every trial alike); Ctrl+C marks the
        # trial failed and is raised again
        self._study.optimize(optuna_objective, n_trials=trials, timeout=timeout, catch=())


def _outcome(trial: Any) -> TrialOutcome:
    done, start = trial.datetime_complete, trial.datetime_start
    return TrialOutcome(
        number=trial.number,
        state=_STATES.get(trial.state.name, trial.state.name.lower()),
        value=trial.value if trial.state.name == "COMPLETE" else None,
        params=dict(trial.params),
        epochs=len(trial.intermediate_values),
        wall_s=(done - start).total_seconds() if done and start else None,
    )
