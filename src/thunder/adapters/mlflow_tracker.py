"""MLflow: Lightning's logger for the per-epoch metrics, and the ExperimentTracker that adds the
config, the final report and the artifact files to the same run. Needs the `mlflow` extra;
mlflow is imported only here, only when asked for."""

import logging
import re
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from pytorch_lightning.loggers import Logger, MLFlowLogger

from thunder.adapters.messages import first_line
from thunder.domain.errors import ThunderError

ARTIFACT_PATH = "artifacts"  # where the run keeps the published files
_BAD_KEY = re.compile(r"[^\w\-. /]")  # MLflow refuses other characters in names


def mlflow_logger(uri: str, experiment: str, artifact_location: str | None) -> Logger:
    """The Lightning logger; the run starts with the first metric. `artifact_location` places a
    new experiment's files (a server's own default otherwise)."""
    quiet_mlflow()
    return MLFlowLogger(
        experiment_name=experiment,
        tracking_uri=uri,
        artifact_location=artifact_location,
        tags={"thunder.command": "chunk"},
    )


def run_of(loggers: list[Logger]) -> str | None:
    """The MLflow run the epochs went to, if one of `loggers` is MLflow's."""
    for logger in loggers:
        if isinstance(logger, MLFlowLogger):
            return str(logger.run_id)
    return None


class MlflowTracker:
    def __init__(self, uri: str) -> None:
        self._uri = uri

    @property
    def uri(self) -> str:
        return self._uri

    def record(
        self,
        run: str,
        *,
        params: Mapping[str, str],
        metrics: Mapping[str, float],
        files: Mapping[str, bytes],
        tags: Mapping[str, str],
    ) -> None:
        from mlflow.entities import Metric, Param, RunTag
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient

        quiet_mlflow()
        client = MlflowClient(tracking_uri=self._uri)
        now = int(time.time() * 1000)
        try:
            with tempfile.TemporaryDirectory(prefix="thunder-mlflow-") as tmp:
                # log_batch takes at most 100 params and 1000 metrics a call
                items = [Param(_key(k), v[:6000]) for k, v in params.items()]
                for i in range(0, len(items), 100):
                    client.log_batch(run, params=items[i : i + 100])
                values = [Metric(_key(k), v, now, 0) for k, v in metrics.items()]
                for i in range(0, len(values), 1000):
                    client.log_batch(run, metrics=values[i : i + 1000])
                client.log_batch(run, tags=[RunTag(_key(k), v) for k, v in tags.items()])
                for path, data in files.items():
                    local = Path(tmp) / Path(path).name
                    local.write_bytes(data)
                    client.log_artifact(run, str(local), ARTIFACT_PATH)
        except MlflowException as e:
            raise ThunderError(f"MLflow ({self._uri}): {first_line(e, 300)}") from None


def quiet_mlflow() -> None:
    """MLflow logs INFO lines on every new store (its table migrations) and Lightning a warning
    on every new experiment; thunder's summary names the run instead. mlflow sets its loggers'
    levels when imported, so it is imported first."""
    import mlflow  # noqa: F401

    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("pytorch_lightning.loggers.mlflow").setLevel(logging.ERROR)


def _key(name: str) -> str:
    return _BAD_KEY.sub("_", name)
