"""The composition root: the one place that picks concrete adapters for the ports.

It declares; it does not decide. Every provider is annotated with its port, so mypy checks that
each adapter still fits. What varies per call (the chunk size, --find-lr, progress bars, a
trial's pruning hook) is an argument of the use case, never a provider to override.
"""

from collections.abc import Callable, Sequence

from dependency_injector import containers, providers

from thunder.adapters import extras
from thunder.adapters.binary_cache import BinaryRowCache
from thunder.adapters.cluster import launcher, torch_cluster
from thunder.adapters.filesystem_store import FilesystemArtifactStore
from thunder.adapters.output_dirs import check_writable
from thunder.adapters.reports.html import report_writer
from thunder.adapters.sources.by_suffix import open_source
from thunder.adapters.sources.frames import open_frames
from thunder.adapters.tqdm_progress import TqdmProgress
from thunder.app import paths
from thunder.app.coordination import Ranks
from thunder.app.evaluate import EvaluateModel
from thunder.app.export import ExportModel, OnnxExporter
from thunder.app.preflight import CheckBeforeTraining
from thunder.app.prepare import PrepareData
from thunder.app.publish import PublishRun
from thunder.app.serving import LoadModel, ServedModel
from thunder.app.settings import Settings
from thunder.app.train import TrainFromChunks
from thunder.app.tune import TrainerFactory, TuneHyperparameters
from thunder.app.versions import Versions
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

# torch, Lightning, scikit-learn, onnxruntime, MLflow and Optuna take seconds to import, so their
# adapters load only when first used, through these loaders: a bad data file then fails in the
# check pass before any of them has loaded, and `--help` loads none.


def _lightning_forecaster(
    network: NetworkConfig,
    options: TrainingOptions,
    layout: torch_cluster.Layout | None,
    module: object | None = None,
    start: tuple[str, bytes] | None = None,
) -> Forecaster:
    from thunder.adapters.lightning.forecaster import LightningForecaster

    return LightningForecaster(
        network=network, options=options, layout=layout, module=module, start=start
    )


def _load_torch_model(data: bytes, origin: str) -> InferenceModel:
    from thunder.adapters.lightning.forecaster import LightningForecaster

    return LightningForecaster.from_bytes(data, origin)


def _load_onnx(data: bytes, origin: str) -> InferenceModel:
    from thunder.adapters.onnx_model import OnnxModel

    return OnnxModel.from_bytes(data, origin)


def _to_onnx(data: bytes, origin: str, int8: bool) -> bytes:
    from thunder.adapters.lightning.forecaster import LightningForecaster

    return LightningForecaster.from_bytes(data, origin).to_onnx(int8)


def _preprocessor(columns: Sequence[str]) -> Preprocessor:
    from thunder.adapters.sklearn_preprocessor import SklearnPreprocessor

    return SklearnPreprocessor(columns)


def _load_preprocessor(data: bytes, origin: str) -> Preprocessor:
    from thunder.adapters.sklearn_preprocessor import SklearnPreprocessor

    return SklearnPreprocessor.from_bytes(data, origin)


def _mlflow_tracker(uri: str) -> ExperimentTracker:
    from thunder.adapters.mlflow_tracker import MlflowTracker

    return MlflowTracker(uri)


def _open_search(storage: str, study: str, seed: int) -> HyperparameterSearch:
    from thunder.adapters.optuna_search import OptunaSearch

    return OptunaSearch(storage, study, seed)


def _load(loader: LoadModel) -> ServedModel:
    return loader()


def _trainer_factory(container: "Container") -> TrainerFactory:
    """A tuning trial's trainer: the same object graph as `chunk` (test overrides included),
    built with the trial's settings. The override lasts while the graph is built, and the
    container is left as it was: the trainer holds the trial's settings, and the factories it
    calls later (forecaster, row cache, progress) take everything settings-dependent as
    arguments from it. Trials run one after another (Optuna without n_jobs), so the override
    never overlaps another."""

    def build(settings: Settings) -> TrainFromChunks:
        with container.settings.override(settings):
            trainer: TrainFromChunks = container.train_from_chunks()
        return trainer

    return build


class Container(containers.DeclarativeContainer):
    __self__ = providers.Self()
    settings: providers.Dependency[Settings] = providers.Dependency(instance_of=Settings)

    # data in: called with path= and chunk_size= (`--size`)
    chunk_source: providers.Provider[ChunkSource] = providers.Factory(open_source)
    # data in from Python: called with frames= (pandas DataFrames), chunk_size=, name= and
    # spill_dir= (where a one-shot iterable of frames is written once, to be read each pass)
    frame_source: providers.Provider[ChunkSource] = providers.Factory(open_frames)
    # called with (shown, rows per chunk)
    progress_reporter: providers.Provider[Progress] = providers.Factory(TqdmProgress)
    # called with (directory, rows per chunk it reads back)
    row_cache: providers.Provider[RowCache] = providers.Factory(BinaryRowCache)
    preprocessor_factory: providers.Provider[Callable[[Sequence[str]], Preprocessor]] = (
        providers.Object(_preprocessor)
    )
    preprocessor_loader: providers.Provider[Callable[[bytes, str], Preprocessor]] = (
        providers.Object(_load_preprocessor)
    )

    # models: called with network= and options=; a launched rank's layout from its cluster
    cluster: providers.Provider[Cluster] = providers.Singleton(
        torch_cluster.connect, settings.provided.training_config.accelerator
    )
    forecaster: providers.Provider[Forecaster] = providers.Factory(
        _lightning_forecaster, layout=providers.Callable(torch_cluster.layout_of, cluster)
    )
    torch_model_loader: providers.Provider[Callable[[bytes, str], InferenceModel]] = (
        providers.Object(_load_torch_model)
    )
    onnx_loader: providers.Provider[Callable[[bytes, str], InferenceModel]] = providers.Object(
        _load_onnx
    )
    # `chunk` exports each model to ONNX too when the onnx extra is installed
    onnx_exporter: providers.Provider[OnnxExporter | None] = providers.Callable(
        extras.if_installed, _to_onnx, "onnx", "onnxruntime"
    )

    # what a run leaves behind
    artifact_store: providers.Provider[ArtifactStore] = providers.Singleton(
        FilesystemArtifactStore,
        root=providers.Callable(paths.artifact_dir, settings),
        keep=settings.provided.keep_versions,
    )
    report_writer: providers.Provider[ReportWriter] = providers.Factory(report_writer)
    experiment_tracker: providers.Provider[ExperimentTracker | None] = providers.Selector(
        settings.provided.training_config.logger,
        mlflow=providers.Factory(_mlflow_tracker, providers.Callable(paths.tracking_uri, settings)),
        csv=providers.Object(None),
        tensorboard=providers.Object(None),
    )

    # use cases
    check_before_training: providers.Provider[CheckBeforeTraining] = providers.Factory(
        CheckBeforeTraining,
        settings=settings,
        writable=providers.Object(check_writable),
        logger_check=providers.Object(extras.check_logger),
    )
    # `chunk` with devices > 1: called with command= (what each rank runs) and find_lr=
    launch_ranks: providers.Provider[bool] = providers.Callable(
        launcher.launch_if_asked,
        cluster,
        accelerator=settings.provided.training_config.accelerator,
        devices=settings.provided.training_config.devices,
        strategy=settings.provided.training_config.strategy,
        num_nodes=settings.provided.training_config.num_nodes,
    )
    train_from_chunks: providers.Provider[TrainFromChunks] = providers.Factory(
        TrainFromChunks,
        settings=settings,
        prepare=providers.Factory(
            PrepareData,
            settings=settings,
            preprocessor_factory=preprocessor_factory,
            cache_factory=row_cache.provider,
            preprocessor_loader=preprocessor_loader,
        ),
        forecaster_factory=forecaster.provider,
        store=artifact_store,
        publish=providers.Factory(
            PublishRun,
            settings=settings,
            store=artifact_store,
            to_onnx=onnx_exporter,
            tracker=experiment_tracker,
            reports=report_writer,
            report_dir=providers.Callable(paths.report_dir, settings, paths.TEST_SPLIT),
        ),
        ranks=providers.Factory(Ranks, cluster=cluster, preprocessor_loader=preprocessor_loader),
        progress_factory=progress_reporter.provider,
    )
    load_model: providers.Provider[LoadModel] = providers.Factory(
        LoadModel,
        settings=settings,
        store=artifact_store,
        torch_loader=torch_model_loader,
        onnx_loader=onnx_loader,
        preprocessor_loader=preprocessor_loader,
        onnx_runtime=providers.Callable(extras.installed, "onnxruntime"),
    )
    # serving loads the artifacts once per process
    served_model: providers.Provider[ServedModel] = providers.Singleton(_load, load_model)
    export_model: providers.Provider[ExportModel] = providers.Factory(
        ExportModel, settings=settings, store=artifact_store, to_onnx=providers.Object(_to_onnx)
    )
    evaluate_model: providers.Provider[EvaluateModel] = providers.Factory(
        EvaluateModel,
        settings=settings,
        model=load_model,
        progress_factory=progress_reporter.provider,
        reports=report_writer,
    )
    tune_hyperparameters: providers.Provider[TuneHyperparameters] = providers.Factory(
        TuneHyperparameters,
        settings=settings,
        open_search=providers.Object(_open_search),
        trainer_factory=providers.Callable(_trainer_factory, __self__),
        store=artifact_store,
    )
    versions: providers.Provider[Versions] = providers.Factory(
        Versions, settings=settings, store=artifact_store
    )
