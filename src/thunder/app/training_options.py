"""The network and the training options of a run, from the settings: plain domain values, so
no adapter is needed to build them (the container hands them to the Lightning forecaster)."""

from thunder.app import paths
from thunder.app.config_sections import CallbackEntry
from thunder.app.settings import Settings
from thunder.domain.training import (
    CallbackSpec,
    EarlyStopping,
    NetworkConfig,
    Optimisation,
    OptimizerConfig,
    ScheduleConfig,
    TrainingOptions,
)
from thunder.domain.tuning import EpochHook


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
        architecture=net.architecture,
    )


def training_options(
    settings: Settings,
    progress: bool,
    find_lr: bool,
    epoch_end: EpochHook | None = None,
    find_batch_size: bool = False,
) -> TrainingOptions:
    t = settings.training_config
    return TrainingOptions(
        epochs=t.epochs,
        max_steps=t.max_steps,
        early_stopping=_early_stopping(settings),
        optimisation=_optimisation(settings),
        batch_size=settings.preprocessing_config.split_config.batch_size,
        seed=t.seed,
        accelerator=t.accelerator,
        precision=t.precision,
        shuffle_buffer=t.shuffle_buffer,
        checkpoint_dir=str(paths.checkpoint_dir(settings)),
        log_dir=str(paths.log_dir(settings)),
        logger=t.logger,
        tracking_uri=paths.tracking_uri(settings) if t.logger == "mlflow" else None,
        experiment=t.experiment,
        artifact_location=paths.mlflow_artifacts(settings),
        progress=progress,
        find_lr=find_lr,
        find_batch_size=find_batch_size,
        epoch_end=epoch_end,
        named_callbacks=tuple(map(_callback, t.callbacks)),
    )


def _callback(entry: str | CallbackEntry) -> CallbackSpec:
    if isinstance(entry, str):
        return CallbackSpec(entry)
    return CallbackSpec(entry.class_path, dict(entry.init_args))


def _optimisation(settings: Settings) -> Optimisation:
    t = settings.training_config
    schedule = t.lr_schedule
    return Optimisation(
        learning_rate=settings.network.learning_rate,
        lr_schedule=schedule if isinstance(schedule, str) else ScheduleConfig(**dict(schedule)),
        warmup_steps=t.warmup_steps,
        gradient_clip_val=t.gradient_clip_val,
        gradient_clip_algorithm=t.gradient_clip_algorithm,
        optimizer=OptimizerConfig(**dict(t.optimizer)),
        accumulate_grad_batches=t.accumulate_grad_batches,
    )


def _early_stopping(settings: Settings) -> EarlyStopping | None:
    t = settings.training_config
    if t.early_stopping_patience is None:
        return None
    return EarlyStopping(t.early_stopping_patience, t.early_stopping_min_delta)
