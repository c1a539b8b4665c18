"""Every path thunder derives from the config, in one place. config.json names model_path and
preprocessor_path; everything else a run writes or reads lives beside the model unless the config
says otherwise: the versions and their `current` pointer, the card, the ONNX export, logs,
resumable checkpoints, the row cache, reports, the tuning study and the MLflow store."""

import os
from pathlib import Path

from thunder.app.settings import Settings

TEST_SPLIT = "test-split"  # the folder of `chunk`'s own report under reports/
Output = tuple[str, Path]  # (the setting or option that places it, the directory)


def artifact_dir(s: Settings) -> Path:
    """Where versions and the `current` pointer live: model_path's directory."""
    return Path(s.model_path).parent


def card_path(s: Settings) -> str:
    return str(Path(s.model_path).with_suffix(".card.json"))


def onnx_path(s: Settings) -> str:
    """Where `thunder export --format onnx` puts the model, in the version beside model_path."""
    return str(Path(s.model_path).with_suffix(".onnx"))


def log_dir(s: Settings) -> Path:
    configured = s.training_config.log_dir
    return Path(configured) if configured else artifact_dir(s) / "logs"


def checkpoint_dir(s: Settings) -> Path:
    """Per-run folders of epoch checkpoints, for `chunk --resume`."""
    return artifact_dir(s) / ".thunder-runs"


def cache_dir(s: Settings) -> Path:
    configured = s.preprocessing_config.cache_dir
    return Path(configured) if configured else artifact_dir(s) / ".thunder-cache"


def report_dir(s: Settings, name: str) -> str:
    """Reports live beside the model: <model dir>/reports/<name>/."""
    return str(artifact_dir(s) / "reports" / name)


def tune_storage(s: Settings) -> str:
    """The Optuna study's default database: a rerun of `tune` resumes it."""
    return f"sqlite:///{(artifact_dir(s) / 'tune.db').resolve()}"


def tuned_config(config_file: str) -> str:
    """Where `tune` writes the best config by default: beside the config it read."""
    return str(Path(config_file).with_name("config.tuned.json"))


def tracking_uri(s: Settings) -> str:
    """training_config.mlflow_tracking_uri, else $MLFLOW_TRACKING_URI, else a SQLite file beside
    the model (MLflow 3 refuses its old ./mlruns file store unless told otherwise)."""
    configured = s.training_config.mlflow_tracking_uri
    return configured or os.environ.get("MLFLOW_TRACKING_URI") or _default_tracking(s)


def mlflow_artifacts(s: Settings) -> str | None:
    """With the default store, run files go to mlruns/ beside the model, not into the cwd."""
    if tracking_uri(s) != _default_tracking(s):
        return None  # a tracking server places them itself
    return str((artifact_dir(s) / "mlruns").resolve())


def outputs(s: Settings) -> list[Output]:
    """Every directory a training run writes to, with the setting that places it."""
    found = [
        ("model_path", artifact_dir(s)),
        ("preprocessor_path", Path(s.preprocessor_path).parent),
        ("training_config.log_dir", log_dir(s)),
    ]
    if s.preprocessing_config.cache:
        found.append(("preprocessing_config.cache_dir", cache_dir(s)))
    return found


def _default_tracking(s: Settings) -> str:
    return f"sqlite:///{(artifact_dir(s) / 'mlruns.db').resolve()}"
