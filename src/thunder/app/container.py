"""The composition root: the one place that picks concrete adapters for the ports."""

import importlib.util
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from dependency_injector import containers, providers

from thunder.adapters.binary_cache import BinaryRowCache
from thunder.adapters.cluster import launcher, torch_cluster
from thunder.adapters.filesystem_store import FilesystemArtifactStore
from thunder.adapters.output_dirs import Output, check_writable
from thunder.adapters.reports.html import HtmlReportWriter
from thunder.adapters.sources.by_suffix import open_source
from thunder.adapters.tqdm_progress import TqdmProgress
from thunder.app.coordination import Ranks
from thunder.app.evaluate import TEST_SPLIT, EvaluateModel, report_dir
from thunder.app.export import ExportModel
from thunder.app.prepare import PrepareData
from thunder.app.publish import PublishRun
from thunder.app.report import RunReport
from thunder.app.serving import LoadModel, ServedModel
from thunder.app.settings import Settings
from thunder.app.train import TrainFromChunks
from thunder.app.training_options import network_config, training_options
from thunder.app.tune import TrialTrainer, TuneHyperparameters
from thunder.app.versions import Versions
from thunder.domain.errors import MissingExtra
from thunder.domain.ports import (
    ArtifactStore,
    ChunkSource,
    Cluster,
    ExperimentTracker,
    Forecaster,
    HyperparameterSearch,
    InferenceModel,
    Preprocessor,
    Progress,
    ReportWriter,
    RowCache,
)
from thunder.domain.training import NetworkConfig, TrainingOptions
from thunder.domain.tuning import EpochHook


# torch, Lightning and scikit-learn take seconds to import, so their adapters load only when
# first used: a bad data file then fails in the check pass before any of them has loaded.
def _lightning_forecaster(
    network: NetworkConfig, options: TrainingOptions, layout: torch_cluster.Layout | None
) -> Forecaster:
    from thunder.adapters.lightning.forecaster import LightningForecaster

    return LightningForecaster(network=network, options=options, layout=layout)


def _load_forecaster(data: bytes, origin: str) -> Forecaster:
    from thunder.adapters.lightning.forecaster import LightningForecaster

    return LightningForecaster.from_bytes(data, origin)


def _load_onnx(data: bytes, origin: str) -> InferenceModel:
    from thunder.adapters.onnx_model import OnnxModel

    _need("onnxruntime", "serve --backend onnx")
    return OnnxModel.from_bytes(data, origin)


def _to_onnx(data: bytes, origin: str, int8: bool) -> bytes:
    from thunder.adapters.lightning.forecaster import LightningForecaster

    _need("onnx", "export --format onnx")
    if int8:  # onnxruntime's quantiser
        _need("onnxruntime", "export --quantize int8")
    return LightningForecaster.from_bytes(data, origin).to_onnx(int8)


def _need(module: str, feature: str) -> None:
    if not _installed(module):
        raise MissingExtra(f"{feature} needs the onnx extra: pip install 'thunder[onnx]'")


def _backend(settings: Settings) -> str:
    return settings.serving_config.backend


def _models(
    settings: Settings, backend: str, torch_loader: Callable[[bytes, str], InferenceModel]
) -> list[tuple[str, Callable[[bytes, str], InferenceModel]]]:
    """`serve --backend`: what to load, in order of preference. "auto" takes the version's ONNX
    export when onnxruntime is installed (several times faster on CPU), else the torch weights."""
    onnx = (settings.onnx_path(), _load_onnx)
    torch = (settings.model_path, torch_loader)
    if backend == "onnx":
        return [onnx]
    if backend == "auto" and _installed("onnxruntime"):
        return [onnx, torch]
    return [torch]


def _onnx_exporter() -> Callable[[bytes, str, bool], bytes] | None:
    """`chunk` exports each trained model to ONNX too when the onnx extra is installed."""
    return _to_onnx if _installed("onnx") and _installed("onnxruntime") else None


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _report_writer() -> ReportWriter:
    """Reports with plots when matplotlib (the report extra) is installed, else tables only.
    matplotlib loads here, on first use: `import thunder` and serving never pay for it."""
    if not _installed("matplotlib"):
        return HtmlReportWriter(None)
    from thunder.adapters.reports.plots import draw

    return HtmlReportWriter(draw)


def _tracking_uri(settings: Settings) -> str:
    """training_config.mlflow_tracking_uri, else $MLFLOW_TRACKING_URI, else a SQLite file beside
    the model (MLflow 3 refuses its old ./mlruns file store unless told otherwise)."""
    configured = settings.training_config.mlflow_tracking_uri
    return configured or os.environ.get("MLFLOW_TRACKING_URI") or _default_tracking(settings)


def _default_tracking(settings: Settings) -> str:
    return f"sqlite:///{(settings.artifact_dir() / 'mlruns.db').resolve()}"


def _artifact_location(settings: Settings) -> str | None:
    """With the default store, run files go to mlruns/ beside the model, not into the cwd."""
    if _tracking_uri(settings) != _default_tracking(settings):
        return None  # a tracking server places them itself
    return str((settings.artifact_dir() / "mlruns").resolve())


def _tracker(settings: Settings) -> ExperimentTracker | None:
    if settings.training_config.logger != "mlflow":
        return None
    from thunder.adapters.mlflow_tracker import MlflowTracker

    return MlflowTracker(_tracking_uri(settings))


def _check_extras(settings: Settings) -> None:
    """Before any data is read: the packages training_config.logger needs."""
    logger = settings.training_config.logger
    if logger == "tensorboard" and not _installed("tensorboard"):
        raise MissingExtra(
            "training_config.logger 'tensorboard' needs tensorboard: pip install tensorboard"
        )
    if logger == "mlflow" and not all(map(_installed, ("mlflow", "sqlalchemy", "alembic"))):
        raise MissingExtra(
            "training_config.logger 'mlflow' needs the mlflow extra: pip install 'thunder[mlflow]'"
        )


def _open_search(storage: str, study: str, seed: int) -> HyperparameterSearch:
    if not _installed("optuna"):
        raise MissingExtra("tune needs the tune extra: pip install 'thunder[tune]'")
    from thunder.adapters.optuna_search import OptunaSearch

    if storage.startswith("sqlite:///"):  # SQLite creates the file, not its folder
        Path(storage.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return OptunaSearch(storage, study, seed)


def _trial_runs(container: "Container") -> TrialTrainer:
    """A tuning trial trains through the same object graph as `chunk` (test overrides
    included), with the trial's settings and pruning hook, validating only: nothing is
    published."""

    def train(settings: Settings, on_epoch: EpochHook, source: ChunkSource) -> RunReport:
        with container.settings.override(settings), container.epoch_hook.override(on_epoch):
            trainer: TrainFromChunks = container.train_from_chunks()
            return trainer(source, validate_only=True)

    return train


def _preprocessor(columns: Sequence[str]) -> Preprocessor:
    from thunder.adapters.sklearn_preprocessor import SklearnPreprocessor

    return SklearnPreprocessor(columns)


def _load_preprocessor(data: bytes, origin: str) -> Preprocessor:
    from thunder.adapters.sklearn_preprocessor import SklearnPreprocessor

    return SklearnPreprocessor.from_bytes(data, origin)


def _outputs(settings: Settings) -> list[Output]:
    """Every directory a training run writes to, with the setting that places it."""
    outputs = [
        ("model_path", Path(settings.model_path).parent),
        ("preprocessor_path", Path(settings.preprocessor_path).parent),
        ("training_config.log_dir", settings.log_dir()),
    ]
    if settings.preprocessing_config.cache:
        outputs.append(("preprocessing_config.cache_dir", settings.cache_dir()))
    return outputs


def _load(loader: LoadModel) -> ServedModel:
    return loader()


def _connect(settings: Settings) -> Cluster:
    return torch_cluster.connect(settings.training_config.accelerator)


def _launch_ranks(
    settings: Settings, cluster: Cluster, argv: Sequence[str], find_lr: bool = False
) -> bool:
    """`chunk` with devices > 1: True when this process started the ranks and they finished.
    Each rank runs `python -m thunder <argv>`."""
    t = settings.training_config
    return launcher.launch_if_asked(
        cluster,
        accelerator=t.accelerator,
        devices=t.devices,
        strategy=t.strategy,
        num_nodes=t.num_nodes,
        find_lr=find_lr,
        command=["-m", "thunder", *argv],
    )


def _row_cache(settings: Settings, chunk_rows: int) -> RowCache | None:
    if not settings.preprocessing_config.cache:
        return None
    return BinaryRowCache(settings.cache_dir(), chunk_rows)


class Container(containers.DeclarativeContainer):
    settings: providers.Dependency[Settings] = providers.Dependency(instance_of=Settings)
    progress: providers.Object[bool] = providers.Object(False)
    __self__ = providers.Self()
    find_lr: providers.Object[bool] = providers.Object(False)  # chunk --find-lr
    epoch_hook: providers.Object[EpochHook | None] = providers.Object(None)  # a tune trial's
    chunk_rows: providers.Object[int] = providers.Object(10_000)  # `chunk --size`

    chunk_source: providers.Provider[ChunkSource] = providers.Factory(
        open_source, chunk_size=chunk_rows
    )
    progress_reporter: providers.Provider[Progress] = providers.Factory(
        TqdmProgress, enabled=progress, chunk_rows=chunk_rows
    )
    row_cache: providers.Provider[RowCache | None] = providers.Factory(
        _row_cache, settings, chunk_rows
    )
    artifact_store: providers.Provider[ArtifactStore] = providers.Singleton(
        FilesystemArtifactStore,
        root=providers.Callable(Settings.artifact_dir, settings),
        keep=settings.provided.keep_versions,
    )
    # `chunk` calls it first: an unwritable output fails in a blink, not after the training
    check_outputs = providers.Callable(check_writable, providers.Callable(_outputs, settings))
    check_extras = providers.Callable(_check_extras, settings)
    preprocessor_factory = providers.Object(_preprocessor)
    experiment_tracker: providers.Provider[ExperimentTracker | None] = providers.Factory(
        _tracker, settings
    )
    report_writer: providers.Provider[ReportWriter] = providers.Factory(_report_writer)
    # a launched rank joins its process group here, before any data is read
    cluster: providers.Provider[Cluster] = providers.Singleton(_connect, settings)
    forecaster: providers.Provider[Forecaster] = providers.Factory(
        _lightning_forecaster,
        network=providers.Callable(network_config, settings),
        options=providers.Callable(training_options, settings, progress, find_lr, epoch_hook),
        layout=providers.Callable(torch_cluster.layout_of, cluster),
    )

    preprocessor_loader = providers.Object(_load_preprocessor)
    launch_ranks = providers.Callable(_launch_ranks, settings, cluster)
    onnx_exporter = providers.Callable(_onnx_exporter)  # None without the onnx extra
    prepare_data: providers.Provider[PrepareData] = providers.Factory(
        PrepareData,
        settings=settings,
        preprocessor_factory=preprocessor_factory,
        progress=progress_reporter,
        cache=row_cache,
    )
    publish_run: providers.Provider[PublishRun] = providers.Factory(
        PublishRun,
        settings=settings,
        store=artifact_store,
        to_onnx=onnx_exporter,
        tracker=experiment_tracker,
        reports=report_writer,
        report_dir=providers.Callable(report_dir, settings, TEST_SPLIT),
    )
    ranks: providers.Provider[Ranks] = providers.Factory(
        Ranks, cluster=cluster, preprocessor_loader=preprocessor_loader
    )
    train_from_chunks: providers.Provider[TrainFromChunks] = providers.Factory(
        TrainFromChunks,
        settings=settings,
        prepare=prepare_data,
        forecaster_factory=forecaster.provider,
        publish=publish_run,
        ranks=ranks,
    )
    backend = providers.Callable(_backend, settings)  # serving_config.backend, `serve --backend`
    forecaster_loader = providers.Object(_load_forecaster)  # the torch weights
    load_model: providers.Provider[LoadModel] = providers.Factory(
        LoadModel,
        settings=settings,
        store=artifact_store,
        models=providers.Callable(_models, settings, backend, forecaster_loader),
        preprocessor_loader=preprocessor_loader,
    )
    export_model: providers.Provider[ExportModel] = providers.Factory(
        ExportModel, settings=settings, store=artifact_store, to_onnx=providers.Object(_to_onnx)
    )
    evaluate_model: providers.Provider[EvaluateModel] = providers.Factory(
        EvaluateModel,
        settings=settings,
        model=load_model,
        progress=progress_reporter,
        reports=report_writer,
    )
    tune_hyperparameters: providers.Provider[TuneHyperparameters] = providers.Factory(
        TuneHyperparameters,
        settings=settings,
        open_search=providers.Object(_open_search),
        train_trial=providers.Callable(_trial_runs, __self__),
        store=artifact_store,
    )
    versions: providers.Provider[Versions] = providers.Factory(
        Versions, settings=settings, store=artifact_store
    )
    # serving loads the artifacts once per process
    served_model: providers.Provider[ServedModel] = providers.Singleton(_load, load_model)
