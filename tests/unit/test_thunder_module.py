"""ThunderModule on tiny CPU runs: what configure_optimizers hands Lightning, the LRs a real fit
follows, manual optimization, predictors, metrics, batch transfer, resuming, wrong arguments."""

import copy
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.core.optimizer import LightningOptimizer
from torch import Tensor, nn
from torch.optim import SGD, Optimizer
from torch.optim.lr_scheduler import ReduceLROnPlateau, StepLR
from torch.utils.data import DataLoader, TensorDataset

from thunder.adapters.lightning.module import ThunderModule
from thunder.domain.errors import ConfigError, InvalidArgument
from thunder.policy import Cosine, Multiply, Policy, Switch, WarmUp
from thunder.predict import Identity, Predictor, Standardised

BASE = 0.1
FEATURES = 3


def mae(prediction: Tensor, target: Tensor) -> Tensor:
    return (prediction - target).abs().mean()


def data(n: int = 8, seed: int = 0) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    return TensorDataset(torch.randn(n, FEATURES, generator=g), torch.randn(n, 1, generator=g))


def loader(n: int = 8, batch_size: int = 4, seed: int = 0) -> DataLoader[Any]:
    return DataLoader(data(n, seed), batch_size=batch_size)


def linear(seed: int = 0) -> nn.Linear:
    torch.manual_seed(seed)
    return nn.Linear(FEATURES, 1)


def two_layers(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(FEATURES, 4), nn.Linear(4, 1))


def trainer(epochs: int = 1, callbacks: Sequence[pl.Callback] = (), **kw: Any) -> pl.Trainer:
    options: dict[str, Any] = dict(
        accelerator="cpu",
        devices=1,
        max_epochs=epochs,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    return pl.Trainer(**{**options, **kw}, callbacks=list(callbacks))


class LRs(pl.Callback):
    """Each optimizer's first param group LR at the start of every epoch (or batch)."""

    def __init__(self, per: str = "epoch") -> None:
        self.per = per
        self.seen: list[list[float]] = []

    def _record(self, trainer: pl.Trainer) -> None:
        self.seen.append([opt.param_groups[0]["lr"] for opt in trainer.optimizers])

    def on_train_epoch_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        if self.per == "epoch":
            self._record(trainer)

    def on_train_batch_start(
        self, trainer: pl.Trainer, module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if self.per == "step":
            self._record(trainer)


# --- configure_optimizers: every configuration the issue lists ------------------------------


def test_an_optimizer_alone_is_returned_as_is() -> None:
    arch = linear()
    opt = SGD(arch.parameters(), lr=BASE)
    assert ThunderModule(arch, nn.MSELoss(), optimizer=opt).configure_optimizers() is opt


def test_a_torch_scheduler_is_wrapped_in_lightnings_dict_per_epoch() -> None:
    arch = linear()
    opt = SGD(arch.parameters(), lr=BASE)
    step = StepLR(opt, 2)
    out = ThunderModule(arch, nn.MSELoss(), optimizer=opt, lr_scheduler=step).configure_optimizers()
    assert out == {"optimizer": opt, "lr_scheduler": {"scheduler": step, "interval": "epoch"}}


def test_a_scheduler_alone_brings_its_optimizer() -> None:
    arch = linear()
    opt = SGD(arch.parameters(), lr=BASE)
    step = StepLR(opt, 2)
    module = ThunderModule(arch, nn.MSELoss(), lr_scheduler=step)
    assert module.configure_optimizers() == {
        "optimizer": opt,
        "lr_scheduler": {"scheduler": step, "interval": "epoch"},
    }


def test_a_plateau_scheduler_monitors_val_loss_and_steps_on_it() -> None:
    arch = linear()
    opt = SGD(arch.parameters(), lr=BASE)
    plateau = ReduceLROnPlateau(opt)
    module = ThunderModule(arch, nn.MSELoss(), optimizer=opt, lr_scheduler=plateau)
    config = module.configure_optimizers()["lr_scheduler"]
    assert config == {"scheduler": plateau, "interval": "epoch", "monitor": "val_loss"}
    trainer(epochs=2).fit(module, loader(), loader(seed=1))
    assert plateau.best < float("inf")  # it was stepped with the logged val_loss


def test_a_policy_is_bound_to_the_optimizer_and_keeps_its_interval() -> None:
    arch = linear()
    opt = SGD(arch.parameters(), lr=BASE)
    policy = WarmUp(3, interval="step")
    module = ThunderModule(arch, nn.MSELoss(), optimizer=opt, lr_scheduler=policy)
    out = module.configure_optimizers()
    bound = out["lr_scheduler"]["scheduler"]
    assert out["optimizer"] is opt
    assert out["lr_scheduler"]["interval"] == "step"
    assert isinstance(bound, WarmUp) and bound.optimizer is opt
    assert not policy.is_bound  # the policy as written stays reusable
    assert module.configure_optimizers()["lr_scheduler"]["scheduler"] is not bound  # fresh count


def test_a_lightning_dict_is_passed_through() -> None:
    arch = linear()
    opt = SGD(arch.parameters(), lr=BASE)
    step = StepLR(opt, 1)
    given = {"scheduler": step, "interval": "step", "frequency": 2, "name": "lr"}
    out = ThunderModule(arch, nn.MSELoss(), optimizer=opt, lr_scheduler=given)
    assert out.configure_optimizers() == {"optimizer": opt, "lr_scheduler": given}


@pytest.mark.parametrize(
    ("given", "interval"),
    [({}, "step"), ({"interval": "epoch"}, "epoch")],
    ids=["policy-interval", "dict-interval"],
)
def test_a_policy_in_a_lightning_dict_is_bound_with_its_interval_unless_the_dict_names_one(
    given: dict[str, Any], interval: str
) -> None:
    arch = linear()
    opt = SGD(arch.parameters(), lr=BASE)
    policy = {"scheduler": WarmUp(4, interval="step"), "frequency": 3, **given}
    module = ThunderModule(arch, nn.MSELoss(), optimizer=opt, lr_scheduler=policy)
    config = module.configure_optimizers()["lr_scheduler"]
    assert (config["frequency"], config["interval"]) == (3, interval)
    assert isinstance(config["scheduler"], WarmUp) and config["scheduler"].optimizer is opt


def test_lists_of_optimizers_and_policies_bind_pairwise_under_manual_optimization() -> None:
    arch = two_layers()
    first, second = SGD(arch[0].parameters(), lr=BASE), SGD(arch[1].parameters(), lr=BASE)
    policies = [Switch({1: 0.01}), Multiply({1: 0.5}, interval="step")]
    module = ThunderModule(arch, nn.MSELoss(), optimizer=[first, second], lr_scheduler=policies)
    optimizers, configs = module.configure_optimizers()
    assert module.automatic_optimization is False
    assert optimizers == [first, second]
    assert [c["scheduler"].optimizer for c in configs] == [first, second]
    assert [type(c["scheduler"]) for c in configs] == [Switch, Multiply]
    assert [c["interval"] for c in configs] == ["epoch", "step"]


def fit_lrs(
    make: Callable[[Optimizer], Any], epochs: int, per: str = "epoch", batches: int = 2
) -> list[float]:
    arch = linear()
    opt = SGD(arch.parameters(), lr=BASE)
    seen = LRs(per)
    module = ThunderModule(arch, nn.MSELoss(), optimizer=opt, lr_scheduler=make(opt))
    trainer(epochs, [seen]).fit(module, loader(n=4 * batches))
    return [lrs[0] for lrs in seen.seen]


def test_a_fit_follows_step_lr_epoch_by_epoch() -> None:
    lrs = fit_lrs(lambda opt: StepLR(opt, step_size=2, gamma=0.5), epochs=5)
    assert lrs == pytest.approx([BASE, BASE, BASE / 2, BASE / 2, BASE / 4])


def test_a_fit_follows_a_switch_from_epoch_one() -> None:
    assert fit_lrs(lambda _: Switch({1: 0.001}), epochs=3) == pytest.approx([BASE, 0.001, 0.001])


def test_a_fit_warms_up_step_by_step() -> None:
    lrs = fit_lrs(lambda _: WarmUp(4, interval="step"), epochs=3, per="step")
    assert lrs == pytest.approx([BASE * (t + 1) / 4 for t in range(4)] + [BASE, BASE])


# --- manual optimization ---------------------------------------------------------------------


def test_two_optimizers_are_each_stepped_by_the_plain_module() -> None:
    arch = two_layers()
    before = copy.deepcopy(arch)
    first, second = SGD(arch[0].parameters(), lr=BASE), SGD(arch[1].parameters(), lr=BASE)
    module = ThunderModule(arch, nn.MSELoss(), optimizer=[first, second])
    run = trainer()
    run.fit(module, loader(n=12))  # 3 batches
    assert module.automatic_optimization is False
    for layer, old in zip(arch, before, strict=True):
        assert not torch.equal(layer.weight, old.weight)
    assert run.global_step == 3 * 2  # Lightning counts each optimizer's steps


def test_manual_optimization_steps_each_policy_at_its_interval() -> None:
    arch = two_layers()
    first = SGD(arch[0].parameters(), lr=BASE)
    second = SGD(arch[1].parameters(), lr=2 * BASE)
    by_epoch, by_step = LRs("epoch"), LRs("step")
    policies = [Switch({1: 0.01}), Multiply({1: 0.5, 3: 0.5}, interval="step")]
    module = ThunderModule(arch, nn.MSELoss(), optimizer=[first, second], lr_scheduler=policies)
    trainer(2, [by_epoch, by_step]).fit(module, loader())  # 2 batches an epoch
    assert [lrs[0] for lrs in by_epoch.seen] == pytest.approx([BASE, 0.01])
    assert [lrs[1] for lrs in by_step.seen] == pytest.approx([0.2, 0.1, 0.1, 0.05])


class ByHand(ThunderModule):
    """Lightning's documented manual optimization: the subclass drives its optimizer."""

    automatic_optimization = False

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.steps_by_hand = 0

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        x, y = batch
        opt = self.optimizers()
        assert isinstance(opt, LightningOptimizer)
        loss = self.criterion(self(x), y)
        opt.zero_grad()
        self.manual_backward(loss)
        opt.step()
        self.steps_by_hand += 1
        return loss


def test_a_subclass_keeps_manual_optimization_with_one_optimizer_and_drives_it() -> None:
    arch = linear()
    before = arch.weight.detach().clone()
    module = ByHand(arch, nn.MSELoss(), optimizer=SGD(arch.parameters(), lr=BASE))
    assert module.automatic_optimization is False
    run = trainer()
    run.fit(module, loader(n=12))
    assert module.steps_by_hand == 3
    assert run.global_step == 3
    assert not torch.equal(arch.weight, before)


# --- predictors ------------------------------------------------------------------------------


class Recording:
    """A predictor that counts its calls per trainer stage and shifts the output by `shift`."""

    def __init__(self, shift: float = 0.0) -> None:
        self.shift, self.calls = shift, Counter[tuple[str, str]]()
        self.trainer: pl.Trainer | None = None

    def _stage(self) -> str:
        assert self.trainer is not None and self.trainer.state.stage is not None
        return str(self.trainer.state.stage.value)

    def prepare(self, x: Tensor) -> Tensor:
        self.calls[(self._stage(), "prepare")] += 1
        return x

    def invert(self, y: Tensor) -> Tensor:
        self.calls[(self._stage(), "invert")] += 1
        return y + self.shift


def test_the_predictor_runs_in_validation_test_and_predict_but_not_in_training() -> None:
    predictor = Recording()
    arch = linear()
    module = ThunderModule(arch, nn.MSELoss(), SGD(arch.parameters(), lr=BASE), None, predictor)
    run = predictor.trainer = trainer()
    run.fit(module, loader(), loader(seed=1))  # 2 training and 2 validation batches
    run.test(module, loader(seed=2))
    run.predict(module, loader(seed=3))
    both = ("prepare", "invert")
    stages = ("validate", "test", "predict")
    assert predictor.calls == {(stage, call): 2 for stage in stages for call in both}


def test_the_predictor_changes_the_validation_loss_and_not_the_training_loss() -> None:
    losses = {}
    for name, predictor in (("identity", Identity()), ("shifted", Recording(shift=10.0))):
        arch = linear()  # the same weights, never updated (lr 0)
        module = ThunderModule(arch, nn.MSELoss(), SGD(arch.parameters(), lr=0.0), None, predictor)
        run = trainer()
        if isinstance(predictor, Recording):
            predictor.trainer = run
        run.fit(module, loader(), loader(seed=1))
        losses[name] = {k: float(v) for k, v in run.callback_metrics.items()}
    assert losses["shifted"]["train_loss"] == losses["identity"]["train_loss"]
    x, y = data(seed=1).tensors
    with torch.no_grad():
        expected = float(((linear()(x) + 10.0 - y) ** 2).mean())
    assert losses["shifted"]["val_loss"] == pytest.approx(expected, rel=1e-5)
    assert losses["identity"]["val_loss"] != pytest.approx(expected, rel=1e-2)


def test_standardised_scales_inputs_and_restores_forecasts_in_the_data_units() -> None:
    scaler = Standardised([1.0, -2.0], [2.0, 4.0], [10.0, 20.0], [5.0, 0.5])
    assert isinstance(scaler, Predictor)
    x = torch.tensor([[[3.0, 2.0], [1.0, -2.0]]])  # [B=1, past=2, F=2]
    assert torch.equal(scaler.prepare(x), torch.tensor([[[1.0, 1.0], [0.0, 0.0]]]))
    forecast = torch.randn(4, 3, 2, 5)  # [B, future, T, Q]
    scaled = (forecast - torch.tensor([10.0, 20.0])[:, None]) / torch.tensor([5.0, 0.5])[:, None]
    assert torch.allclose(scaler.invert(scaled), forecast, atol=1e-5)


def test_standardised_needs_a_scale_for_each_mean() -> None:
    with pytest.raises(ConfigError, match="each mean needs a scale"):
        Standardised([0.0, 1.0], [1.0], [0.0], [1.0])


def test_standardised_applies_its_head_before_restoring_units() -> None:
    scaler = Standardised([0.0], [1.0], [100.0], [10.0], head=lambda out: out[..., None])
    restored = scaler.invert(torch.ones(2, 3, 1))  # [B, future, T] -> head -> [B, future, T, 1]
    assert restored.shape == (2, 3, 1, 1)
    assert torch.all(restored == 110.0)


# --- metrics and predict_step ----------------------------------------------------------------


def module_with_metrics(arch: nn.Module) -> ThunderModule:
    def batch_max(prediction: Tensor, target: Tensor) -> float:
        return float((prediction - target).abs().max())  # a metric may return a float

    metrics = {"mae": mae, "max": batch_max}
    return ThunderModule(
        arch, nn.MSELoss(), optimizer=SGD(arch.parameters(), lr=BASE), metrics=metrics
    )


def weighted(arch: nn.Module, dataset: TensorDataset, batch_size: int) -> dict[str, float]:
    """Each metric by hand: per-batch values weighted by the batch's size."""
    totals = Counter[str]()
    with torch.no_grad():
        for x, y in DataLoader(dataset, batch_size=batch_size):
            p, n = arch(x), len(x)
            totals["loss"] += float(((p - y) ** 2).mean()) * n
            totals["mae"] += float((p - y).abs().mean()) * n
            totals["max"] += float((p - y).abs().max()) * n
    return {k: v / len(dataset) for k, v in totals.items()}


def test_metrics_are_logged_as_batch_size_weighted_means_in_validation_and_test() -> None:
    arch = linear()
    module = module_with_metrics(arch)
    dataset = data(n=10, seed=4)  # batches of 4, 4 and 2
    expected = weighted(arch, dataset, batch_size=4)
    run = trainer()
    for stage, results in (
        ("val", run.validate(module, DataLoader(dataset, batch_size=4))),
        ("test", run.test(module, DataLoader(dataset, batch_size=4))),
    ):
        assert results[0] == pytest.approx({f"{stage}_{k}": v for k, v in expected.items()})
    other = data(n=6, seed=5)  # a second run reports its own data only
    results = run.validate(module, DataLoader(other, batch_size=4))
    assert results[0]["val_mae"] == pytest.approx(weighted(arch, other, 4)["mae"])


def test_validating_before_fit_leaves_the_metrics_usable_in_fit_and_after() -> None:
    # trainer.validate runs in inference mode, fit's validation under no_grad: the running
    # means must survive the switch both ways
    arch = linear()
    module = module_with_metrics(arch)
    run = trainer(epochs=1)
    run.validate(module, loader(seed=1))
    run.fit(module, loader(), loader(seed=1))
    fitted = {k: float(v) for k, v in run.callback_metrics.items()}
    again = run.validate(module, loader(seed=1))[0]
    assert again["val_mae"] == pytest.approx(fitted["val_mae"])
    assert again["val_mae"] == pytest.approx(weighted(arch, data(seed=1), batch_size=4)["mae"])


def test_two_validation_loaders_are_logged_apart_with_their_index() -> None:
    arch = linear()
    module = module_with_metrics(arch)
    sets = [data(n=10, seed=6), data(n=5, seed=7)]
    results = trainer().validate(module, [DataLoader(s, batch_size=4) for s in sets])
    for i, (dataset, result) in enumerate(zip(sets, results, strict=True)):
        expected = weighted(arch, dataset, batch_size=4)
        assert result == pytest.approx(
            {f"val_{k}/dataloader_idx_{i}": v for k, v in expected.items()}
        )


@pytest.mark.parametrize(
    "make",
    [
        lambda x, y: TensorDataset(x, y),
        lambda x, _: TensorDataset(x),
        lambda x, _: x,  # a plain tensor: each batch is the inputs alone
    ],
    ids=["x-and-y", "x-alone", "tensor"],
)
def test_predict_returns_the_predictions(make: Callable[[Tensor, Tensor], Any]) -> None:
    arch = linear()
    module = ThunderModule(arch, nn.MSELoss(), optimizer=SGD(arch.parameters(), lr=BASE))
    x, y = data(n=10).tensors
    out = trainer().predict(module, DataLoader(make(x, y), batch_size=4))
    assert out is not None
    assert [len(batch) for batch in out] == [4, 4, 2]
    with torch.no_grad():
        assert torch.allclose(torch.cat(out), arch(x))  # type: ignore[arg-type]


# --- batch transfer --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stage", "moved"),
    [
        (None, True),  # no trainer: Lightning's default
        ("training", True),
        ("sanity_checking", False),
        ("validating", False),
        ("testing", False),
        ("predicting", False),
    ],
)
def test_only_training_batches_are_moved_to_the_device(stage: str | None, moved: bool) -> None:
    # A CPU test machine has no second device; the meta device stands in for the accelerator,
    # so a moved batch is visibly elsewhere and an unmoved one is the loader's own object.
    arch = linear()
    module = ThunderModule(arch, nn.MSELoss(), optimizer=SGD(arch.parameters(), lr=BASE))
    if stage is not None:
        run = trainer()
        setattr(run, stage, True)
        module.trainer = run
    batch = list(data().tensors)
    out = module.transfer_batch_to_device(batch, torch.device("meta"), 0)
    if moved:
        assert all(t.device.type == "meta" for t in out)
    else:
        assert out is batch and all(t.device.type == "cpu" for t in out)


class Transfers(ThunderModule):
    """Records whether each stage's batch reached the step as the loader's own object."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.before: int | None = None
        self.same: set[tuple[str, bool]] = set()

    def on_before_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        self.before = id(batch)
        return batch

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        assert self.trainer.state.stage is not None
        self.same.add((self.trainer.state.stage.value, id(batch) == self.before))
        return batch


def test_a_real_run_moves_training_batches_and_hands_inference_batches_over_untouched() -> None:
    arch = linear()
    module = Transfers(arch, nn.MSELoss(), optimizer=SGD(arch.parameters(), lr=BASE))
    run = trainer()
    run.fit(module, loader(), loader(seed=1))
    run.predict(module, loader(seed=2))
    # training batches are rebuilt by Lightning's move (a new container, even on CPU)
    assert module.same == {("train", False), ("validate", True), ("predict", True)}


def test_inference_moves_only_the_network_inputs_to_the_module_device() -> None:
    arch = linear()
    module = ThunderModule(arch, nn.MSELoss(), optimizer=SGD(arch.parameters(), lr=BASE))
    module.to("meta")  # the meta device stands in for an accelerator
    x = data().tensors[0]
    prediction = module.predict_step([x], 0)
    assert x.device.type == "cpu"
    assert prediction.device.type == "meta" and prediction.shape == (8, 1)


# --- resuming --------------------------------------------------------------------------------


def resumable(seed: int, manual: bool) -> ThunderModule:
    """Built the same way every time, as a fresh process would build it."""
    arch = two_layers(seed)
    if not manual:
        opt = SGD(arch.parameters(), lr=BASE)
        return ThunderModule(arch, nn.MSELoss(), optimizer=opt, lr_scheduler=Cosine(4))
    opts = [SGD(arch[0].parameters(), lr=BASE), SGD(arch[1].parameters(), lr=BASE)]
    policies: list[Policy] = [Multiply({1: 0.5, 3: 0.5}), WarmUp(6, interval="step")]
    return ThunderModule(arch, nn.MSELoss(), optimizer=opts, lr_scheduler=policies)


@pytest.mark.parametrize("manual", [False, True], ids=["one-optimizer", "two-optimizers"])
def test_a_run_resumed_from_its_last_checkpoint_follows_the_same_lrs(
    tmp_path: Path, manual: bool
) -> None:
    def fit(epochs: int, to: Path, ckpt: Path | None = None) -> list[float]:
        seen = LRs("step")
        saver = ModelCheckpoint(dirpath=to, save_last=True)
        run = trainer(epochs, [seen, saver], enable_checkpointing=True)
        run.fit(resumable(0, manual), loader(), loader(seed=1), ckpt_path=ckpt, weights_only=True)
        return [lr for lrs in seen.seen for lr in lrs]  # every optimizer's LR at every batch

    uninterrupted = fit(4, tmp_path / "whole")
    fit(2, tmp_path / "first")
    resumed = fit(4, tmp_path / "rest", tmp_path / "first" / "last.ckpt")
    per_epoch = len(uninterrupted) // 4
    assert len(resumed) == 2 * per_epoch  # epochs 2 and 3 only
    assert resumed == pytest.approx(uninterrupted[2 * per_epoch :])


# --- a module for anything: a classifier -----------------------------------------------------


def test_a_classifier_trains_with_cross_entropy_and_an_accuracy_metric() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(96, 4, generator=g)
    y = (x @ torch.randn(4, 3, generator=g)).argmax(dim=1)  # 3 classes a linear map separates
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))

    def accuracy(logits: Tensor, target: Tensor) -> Tensor:
        return (logits.argmax(dim=1) == target).float().mean()

    module = ThunderModule(
        net,
        nn.CrossEntropyLoss(),
        optimizer=torch.optim.Adam(net.parameters(), lr=0.05),
        metrics={"accuracy": accuracy},
    )
    run = trainer(epochs=6)
    val = DataLoader(TensorDataset(x, y), batch_size=96)
    before = run.validate(module, val)[0]
    run.fit(module, DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True), val)
    after = {k: float(v) for k, v in run.callback_metrics.items()}
    assert after["val_loss"] < before["val_loss"] / 2
    assert after["val_accuracy"] > max(0.8, before["val_accuracy"])


# --- wrong arguments -------------------------------------------------------------------------


def build(field: str, value: Any) -> ThunderModule:
    arch = linear()
    kw: dict[str, Any] = dict(
        architecture=arch,
        criterion=nn.MSELoss(),
        optimizer=SGD(arch.parameters(), lr=BASE),
    )
    kw[field] = value
    return ThunderModule(**kw)


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("architecture", lambda x: x, "architecture"),
        ("criterion", "mse", "criterion"),
        ("optimizer", "adam", "optimizer"),
        ("optimizer", [SGD(linear().parameters(), lr=BASE), "adam"], "optimizer"),
        ("lr_scheduler", 10, "lr_scheduler"),
        ("lr_scheduler", [Switch({1: 0.01}), "cosine"], "lr_scheduler"),
        ("predictor", lambda x: x, "predictor"),
        ("metrics", {"mae": mae, "r2": 0.5}, "metrics.r2"),
    ],
    ids=[
        "architecture",
        "criterion",
        "optimizer",
        "optimizer-in-a-list",
        "lr_scheduler",
        "lr_scheduler-in-a-list",
        "predictor",
        "metric",
    ],
)
def test_a_wrong_argument_is_an_invalid_argument_naming_it(
    field: str, value: Any, named: str
) -> None:
    with pytest.raises(InvalidArgument, match=named.split(".")[-1]) as caught:
        build(field, value)
    assert caught.value.field == named


@pytest.mark.parametrize(
    "schedulers", [None, Switch({1: 0.01})], ids=["nothing", "policy-without-optimizer"]
)
def test_no_optimizer_is_a_config_error_when_lightning_asks(schedulers: Any) -> None:
    module = ThunderModule(linear(), nn.MSELoss(), lr_scheduler=schedulers)
    with pytest.raises(ConfigError, match="no optimizer") as caught:
        module.configure_optimizers()
    assert caught.value.field == "optimizer"


def test_two_policies_for_three_optimizers_is_a_config_error() -> None:
    layers = [nn.Linear(2, 2) for _ in range(3)]
    opts = [SGD(layer.parameters(), lr=BASE) for layer in layers]
    module = ThunderModule(
        nn.Sequential(*layers), nn.MSELoss(), optimizer=opts, lr_scheduler=[Switch({1: 0.1})] * 2
    )
    with pytest.raises(ConfigError, match=r"2 lr_scheduler\(s\) for 3 optimizers") as caught:
        module.configure_optimizers()
    assert caught.value.field == "lr_scheduler"


# --- the checkpoint ------------------------------------------------------------------------


def test_the_state_dict_holds_the_architecture_weights_only_even_after_validation() -> None:
    arch = linear()
    module = module_with_metrics(arch)
    results = trainer().validate(module, loader())
    assert "val_mae" in results[0]  # the metric state exists by now
    assert set(module.state_dict()) == {f"architecture.{k}" for k in arch.state_dict()}
    fresh = module_with_metrics(linear(seed=1))
    fresh.load_state_dict(module.state_dict())  # strict: nothing missing, nothing extra
    assert torch.equal(fresh.architecture.weight, arch.weight)


def test_a_torchmetrics_metric_moves_with_the_module_and_stays_out_of_the_state_dict() -> None:
    from torchmetrics import MeanAbsoluteError

    net = nn.Linear(3, 1)
    metric = MeanAbsoluteError()
    module = ThunderModule(
        net, nn.MSELoss(), optimizer=torch.optim.SGD(net.parameters(), 0.1), metrics={"mae": metric}
    )
    module.to("meta")  # stands in for an accelerator on this CPU-only machine
    assert metric.device == torch.device("meta")
    assert set(module.state_dict()) == {"architecture.weight", "architecture.bias"}


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"metrics": [abs]}, "metrics"),
        ({"gradient_clip_val": "1"}, "gradient_clip_val"),
        ({"lr_scheduler": {"interval": "step"}}, "lr_scheduler"),
    ],
)
def test_more_wrong_arguments_are_invalid_arguments(kwargs: dict[str, Any], named: str) -> None:
    net = nn.Linear(3, 1)
    with pytest.raises(InvalidArgument) as caught:
        ThunderModule(net, nn.MSELoss(), optimizer=SGD(net.parameters(), 0.1), **kwargs)
    assert caught.value.field == named


def test_a_torchmetrics_metric_is_computed_over_the_epoch_not_averaged_per_batch() -> None:
    from torchmetrics import MeanSquaredError

    torch.manual_seed(0)
    x, y = torch.randn(10, 3), torch.randn(10, 1)
    x[-2:] *= 10  # the uneven last batch weighs more in a global MSE than in a batch mean
    net = nn.Linear(3, 1)
    rmse = MeanSquaredError(squared=False)  # a batch mean of RMSEs is not the epoch's RMSE
    module = ThunderModule(
        net, nn.MSELoss(), optimizer=SGD(net.parameters(), 0.0), metrics={"rmse": rmse}
    )
    trainer = pl.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False)
    (got,) = trainer.validate(module, DataLoader(TensorDataset(x, y), batch_size=4))
    with torch.no_grad():
        mse = nn.functional.mse_loss(net(x), y).item()
    assert got["val_rmse"] == pytest.approx(mse**0.5, rel=1e-5)
    assert got["val_loss"] == pytest.approx(mse, rel=1e-5)  # a plain loss: the weighted mean


def test_a_torchmetrics_metric_survives_validate_then_fit_then_validate() -> None:
    from torchmetrics import MeanAbsoluteError

    torch.manual_seed(0)
    data = DataLoader(TensorDataset(torch.randn(12, 3), torch.randn(12, 1)), batch_size=4)
    net = nn.Linear(3, 1)
    module = ThunderModule(
        net,
        nn.MSELoss(),
        optimizer=SGD(net.parameters(), 0.01),
        metrics={"mae": MeanAbsoluteError()},
    )
    trainer = pl.Trainer(
        accelerator="cpu", max_epochs=1, logger=False, enable_progress_bar=False,
        enable_checkpointing=False, enable_model_summary=False,
    )  # fmt: skip
    before = trainer.validate(module, data)[0]["val_mae"]
    trainer.fit(module, data, data)  # validate() left inference tensors in the metric's state
    after = trainer.validate(module, data)[0]["val_mae"]
    assert before != after
