"""The composition root: the one place that picks concrete adapters for the ports."""

from collections.abc import Sequence

from dependency_injector import containers, providers

from thunder.adapters.binary_cache import BinaryRowCache
from thunder.adapters.csv_chunks import CsvChunkSource
from thunder.adapters.filesystem_store import FilesystemArtifactStore
from thunder.adapters.lightning.forecaster import LightningForecaster, TrainingOptions
from thunder.adapters.lightning.network import NetworkConfig
from thunder.adapters.sklearn_preprocessor import SklearnPreprocessor
from thunder.adapters.tqdm_progress import TqdmProgress
from thunder.app.predict import Forecast, LoadModel
from thunder.app.settings import Settings
from thunder.app.train import TrainFromChunks
from thunder.domain.ports import (
    ArtifactStore,
    ChunkSource,
    Forecaster,
    Preprocessor,
    Progress,
    RowCache,
)


def network_config(settings: Settings) -> NetworkConfig:
    cols = settings.columns(None)
    net, window = settings.network, settings.window
    targets_fed = settings.preprocessing_config.use_target_as_feature
    return NetworkConfig(
        num_features=net.num_features,
        num_targets=len(cols.targets),
        past_steps=window.past_steps,
        future_steps=window.future_steps,
        hidden_size=net.hidden_size,
        num_layers=net.num_layers,
        num_heads=net.num_attention_heads,
        dropout=net.dropout,
        block_pattern=net.block_pattern,
        target_inputs=tuple(cols.inputs.index(t) for t in cols.targets) if targets_fed else None,
        quantiles=tuple(net.quantiles or ()),
    )


def training_options(settings: Settings, progress: bool, find_lr: bool) -> TrainingOptions:
    t = settings.training_config
    return TrainingOptions(
        epochs=t.epochs,
        max_steps=t.max_steps,
        batch_size=settings.preprocessing_config.split_config.batch_size,
        learning_rate=settings.network.learning_rate,
        seed=t.seed,
        accelerator=t.accelerator,
        devices=t.devices,
        precision=t.precision,
        progress=progress,
        shuffle_buffer=t.shuffle_buffer,
        early_stopping_patience=t.early_stopping_patience,
        early_stopping_min_delta=t.early_stopping_min_delta,
        lr_schedule=t.lr_schedule,
        warmup_steps=t.warmup_steps,
        gradient_clip_val=t.gradient_clip_val,
        log_dir=str(settings.log_dir()),
        checkpoint_dir=str(settings.checkpoint_dir()),
        find_lr=find_lr,
    )


def _preprocessor(columns: Sequence[str]) -> Preprocessor:
    return SklearnPreprocessor(columns)


def _load(loader: LoadModel) -> Forecast:
    return loader()


def _row_cache(settings: Settings, chunk_rows: int) -> RowCache | None:
    if not settings.preprocessing_config.cache:
        return None
    return BinaryRowCache(settings.cache_dir(), chunk_rows)


class Container(containers.DeclarativeContainer):
    settings: providers.Dependency[Settings] = providers.Dependency(instance_of=Settings)
    progress: providers.Object[bool] = providers.Object(False)
    find_lr: providers.Object[bool] = providers.Object(False)  # chunk --find-lr
    chunk_rows: providers.Object[int] = providers.Object(10_000)  # `chunk --size`

    chunk_source: providers.Provider[ChunkSource] = providers.Factory(
        CsvChunkSource, chunk_size=chunk_rows
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
    preprocessor_factory = providers.Object(_preprocessor)
    forecaster: providers.Provider[Forecaster] = providers.Factory(
        LightningForecaster,
        network=providers.Callable(network_config, settings),
        options=providers.Callable(training_options, settings, progress, find_lr),
    )

    train_from_chunks: providers.Provider[TrainFromChunks] = providers.Factory(
        TrainFromChunks,
        settings=settings,
        preprocessor_factory=preprocessor_factory,
        forecaster_factory=forecaster.provider,
        store=artifact_store,
        progress=progress_reporter,
        cache=row_cache,
    )
    forecaster_loader = providers.Object(LightningForecaster.from_bytes)
    preprocessor_loader = providers.Object(SklearnPreprocessor.from_bytes)
    load_model: providers.Provider[LoadModel] = providers.Factory(
        LoadModel,
        settings=settings,
        store=artifact_store,
        forecaster_loader=forecaster_loader,
        preprocessor_loader=preprocessor_loader,
    )
    # serving loads the artifacts once per process
    predictor: providers.Provider[Forecast] = providers.Singleton(_load, load_model)
