"""training_config's optimizer and lr_schedule: unions tagged by `name`, each choice a strict
model of the keys that name reads, so a key another choice reads is one error naming it."""

from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator


class _Named(BaseModel):
    """One choice of a `name`-tagged union: a key that this name does not read is one error
    naming the key and the keys it does read (a changed value would be ignored otherwise)."""

    model_config = ConfigDict(extra="forbid")
    _kind: ClassVar[str] = ""

    @model_validator(mode="before")
    @classmethod
    def _applies(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in data:
                if key not in cls.model_fields:
                    reads = ", ".join(k for k in cls.model_fields if k != "name")
                    raise ValueError(
                        f"{key!r} does not apply to {cls._kind} {data.get('name')!r} (it reads "
                        f"{reads}); remove it"
                    )
        return data


class _Optimizer(_Named):
    _kind: ClassVar[str] = "optimizer"
    weight_decay: float = Field(0.0, ge=0)


class _Adam(_Optimizer):
    betas: tuple[Annotated[float, Field(ge=0, lt=1)], Annotated[float, Field(ge=0, lt=1)]] = (
        0.9,
        0.999,
    )
    eps: float = Field(1e-8, gt=0)


class AdamWOptions(_Adam):
    name: Literal["adamw"] = "adamw"
    weight_decay: float = Field(0.01, ge=0, description="decoupled (AdamW); torch's default")


class AdamOptions(_Adam):
    name: Literal["adam"]
    weight_decay: float = Field(0.0, ge=0, description="an L2 term added to the gradient")


class SGDOptions(_Optimizer):
    name: Literal["sgd"]
    momentum: float = Field(0.0, ge=0)
    nesterov: bool = False

    @model_validator(mode="after")
    def _nesterov_needs_momentum(self) -> "SGDOptions":
        if self.nesterov and self.momentum == 0:
            raise ValueError("nesterov needs a momentum > 0")
        return self


class _Schedule(_Named):
    _kind: ClassVar[str] = "lr_schedule"


class PlateauSchedule(_Schedule):
    name: Literal["plateau"]
    factor: float = Field(0.5, gt=0, lt=1, description="the rate is multiplied by it")
    patience: int = Field(1, ge=0, description="epochs without a better val_loss first")
    min_lr: float = Field(0.0, ge=0, description="never below it")


class StepSchedule(_Schedule):
    name: Literal["step"]
    step_size: int = Field(ge=1, description="optimizer steps between decays")
    gamma: float = Field(0.1, gt=0, description="the rate is multiplied by it")


class CosineSchedule(_Schedule):
    name: Literal["cosine"]
    warmup_steps: int = Field(0, ge=0, description="linear warm-up, in optimizer steps")
    min_lr: float = Field(0.0, ge=0, description="the rate at the last step")


class OneCycleSchedule(_Schedule):
    name: Literal["one_cycle"]
    max_lr: float = Field(gt=0, description="the peak, reached at pct_start of the steps")
    pct_start: float = Field(0.3, gt=0, lt=1)


def _tag(value: Any, default: str | None = None) -> str | None:
    """Which member of a name-tagged union a value is: a plain string is the short form."""
    if isinstance(value, str):
        return "string"
    name = value.get("name") if isinstance(value, dict) else getattr(value, "name", None)
    return str(name) if name is not None else default


def _tagged(*members: type[_Named], kind: str, default: str | None = None) -> Discriminator:
    names = ", ".join(repr(n) for m in members for n in get_args(m.model_fields["name"].annotation))
    return Discriminator(
        lambda value: _tag(value, default),
        custom_error_type=f"{kind}_name",
        custom_error_message=f"name must be one of {names}",
    )


OptimizerOptions = Annotated[
    Annotated[AdamWOptions, Tag("adamw")]
    | Annotated[AdamOptions, Tag("adam")]
    | Annotated[SGDOptions, Tag("sgd")],
    _tagged(AdamWOptions, AdamOptions, SGDOptions, kind="optimizer", default="adamw"),
]
LRSchedule = Annotated[
    Annotated[Literal["none", "plateau", "cosine"], Tag("string")]
    | Annotated[PlateauSchedule, Tag("plateau")]
    | Annotated[StepSchedule, Tag("step")]
    | Annotated[CosineSchedule, Tag("cosine")]
    | Annotated[OneCycleSchedule, Tag("one_cycle")],
    _tagged(PlateauSchedule, StepSchedule, CosineSchedule, OneCycleSchedule, kind="lr_schedule"),
]
