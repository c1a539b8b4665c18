"""`chunk --init-from`: the published model a run starts from instead of fresh weights — a kept
version of this config's store, or a model file thunder wrote (with its card beside it) — and,
with --keep-scaler, that model's fitted scaler instead of one refitted on the new data."""

from dataclasses import dataclass
from pathlib import Path

from thunder.app import paths
from thunder.app.serving import read_card
from thunder.app.settings import Settings
from thunder.domain.errors import ArtifactNotFound, ConfigError
from thunder.domain.ports import ArtifactStore
from thunder.domain.values import ModelCard


@dataclass(frozen=True)
class Start:
    source: str  # what the report names: "version <id>" or the model file's path
    model: bytes
    card: ModelCard
    preprocessor: bytes | None  # with --keep-scaler only


def find_start(
    settings: Settings, store: ArtifactStore, init_from: str, keep_scaler: bool
) -> Start:
    """The model (and card, and scaler when kept) --init-from names, checked against the run's
    columns and window; ArtifactNotFound when it names neither a version nor a file."""
    model_path, card_path = settings.model_path, paths.card_path(settings)
    scaler_path = settings.preprocessor_path
    if init_from in store.history():
        wanted = [model_path, card_path] + ([scaler_path] if keep_scaler else [])
        files = store.load(wanted, init_from).files
        model, card, scaler = files[model_path], files[card_path], files.get(scaler_path)
        source = f"version {init_from}"
    else:
        model, card, scaler = _files_beside(store, init_from, Path(scaler_path).name, keep_scaler)
        source = init_from
    start = Start(source, model, read_card(card, f"{init_from}: its model card"), scaler)
    _check_columns(settings, start)
    return start


def _files_beside(
    store: ArtifactStore, model: str, scaler_name: str, keep_scaler: bool
) -> tuple[bytes, bytes, bytes | None]:
    """A model file, the card thunder writes beside it, and the scaler of the same version."""
    try:
        data = store.read_file(model)
    except ArtifactNotFound:
        raise ArtifactNotFound(
            f"--init-from {model}: neither a version of this model (see `thunder versions`) "
            f"nor a model file",
            field="init_from",
        ) from None
    card = store.read_file(str(Path(model).with_suffix(".card.json")))
    scaler = store.read_file(str(Path(model).with_name(scaler_name))) if keep_scaler else None
    return data, card, scaler


def _check_columns(settings: Settings, start: Start) -> None:
    """The same inputs and targets, in the same order, and the same window: the weights mean
    nothing for other columns. The network's own fields are compared by the forecaster."""
    mine, theirs = settings.columns(None), start.card.columns
    window = settings.window
    pairs = [
        ("preprocessing_config inputs", list(mine.inputs), list(theirs.inputs)),
        ("preprocessing_config.target_variables", list(mine.targets), list(theirs.targets)),
        ("split_config.past_steps", window.past_steps, start.card.window.past_steps),
        ("split_config.future_steps", window.future_steps, start.card.window.future_steps),
    ]
    for name, here, there in pairs:
        if here != there:
            raise ConfigError(
                f"--init-from {start.source}: {name} is {there} there, {here} here; a warm "
                f"start needs the same columns and window",
                field="init_from",
            )
