"""The config's parts as pydantic models: activations, model, optimizer, training, variants,
diagnostics, output (Experiment, in experiment.py, holds them), and how a variant or a model's
`training` changes apply to the experiment's model and training.

Values are strict (no true -> 1, no "1" -> 1; an integer is accepted where a number is
expected) and floats must be finite. Nothing here imports Keras.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator, model_serializer, model_validator

from actbench import activations as activation_registry
from actbench import datasets
from actbench.errors import did_you_mean

DATASET_NAMES = datasets.names()
LABEL_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._=+:-]*"
MAX_SEED = 2**31 - 1  # every backend's seeding accepts it
PositiveFloat = Annotated[float, Field(gt=0)]
# kernel_initializer: Keras names, or "auto": each activation entry's own initializer (activations/builtin.py).
KERNEL_INITIALIZERS = (
    "auto",
    "glorot_uniform",
    "glorot_normal",
    "he_uniform",
    "he_normal",
    "lecun_uniform",
    "lecun_normal",
    "orthogonal",
    "random_normal",
    "random_uniform",
    "truncated_normal",
)


@dataclass(frozen=True)
class HashedWhenSet:
    """Marks a field added after configs were first hashed: it is left out of every dump, and so
    of the config hash, while its value is one of `unset` (its default when not given), so every
    older config keeps its hash. Strict's one serializer honours the mark."""

    unset: tuple[Any, ...] | None = None


WHEN_SET = HashedWhenSet()


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)

    @model_serializer(mode="wrap")
    def _without_unset_new_fields(self, handler):
        data = handler(self)
        for name, info in type(self).model_fields.items():
            mark = next((m for m in info.metadata if isinstance(m, HashedWhenSet)), None)
            if mark is not None and name in data and data[name] in (mark.unset or (info.default,)):
                del data[name]
        return data

    def _settle(self, **derived: Any) -> None:
        """Fill derived fields while the model is being validated, before anyone holds it:
        the only writes a frozen config ever sees."""
        for key, value in derived.items():
            object.__setattr__(self, key, value)


class Patch(Strict):
    """A partial override: every field optional, None meaning "not given" (left out when dumped)."""

    @model_serializer(mode="wrap")
    def _given_only(self, handler):
        return {k: v for k, v in handler(self).items() if v is not None}

    def given(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


def patch_of(spec: type[BaseModel], name: str, exclude: tuple[str, ...] = ()) -> type[Patch]:
    """A Patch with the fields (types and bounds) of `spec`, each optional: what a variant may override."""
    fields: dict[str, Any] = {}
    for key, f in spec.model_fields.items():
        if key not in exclude:
            typ: Any = Annotated.__class_getitem__((f.annotation, *f.metadata)) if f.metadata else f.annotation  # type: ignore[attr-defined]
            fields[key] = (Optional[typ], None)  # noqa: UP045 (typ is a runtime value, not an annotation)
    return create_model(name, __base__=Patch, **fields)


class ActivationSpec(Strict):
    """One activation in the grid: a registry name (or module:function) and its parameters.

    Written in YAML as a name (`relu`) or a mapping (`{name: leaky_relu, negative_slope: 0.1}`);
    the label defaults to the name plus its parameters."""

    model_config = ConfigDict(extra="allow")  # the parameters; checked against the registry below
    name: str
    label: str = ""
    # Learn the parameters (swish's beta, elu's alpha, ...) from their given values; None: the
    # entry's default (fixed, but learned for an adaptive family such as pau).
    trainable: Annotated[bool | None, WHEN_SET] = None
    shared: Annotated[Literal["layer", "channel"] | None, WHEN_SET] = None  # one value per layer (default) or channel

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"name": data}
        if not isinstance(data, (dict, ActivationSpec)):
            raise ValueError("expected an activation name, or a mapping with a 'name' key and its parameters")
        if isinstance(data, dict) and "label" in data and data["label"] is None:
            return {k: v for k, v in data.items() if k != "label"}  # `label: null` means the default
        return data

    @model_validator(mode="after")
    def _known_and_labelled(self) -> ActivationSpec:
        activation_registry.check_entry(self.name, self.params)
        activation_registry.check_learning(self.name, self.trainable, self.shared)
        # The defaults written out mean what leaving them out means, so they hash alike.
        if self.trainable is not None and self.trainable == activation_registry.learned(self.name, None):
            self._settle(trainable=None)
        if self.shared == "layer":
            self._settle(shared=None)
        if not self.label:
            self._settle(label=activation_registry.default_label(self.name, self.params, self.trainable, self.shared))
        elif not re.fullmatch(LABEL_PATTERN, self.label):
            raise ValueError(f"label '{self.label}' may use letters, digits and . _ = + : - only")
        return self

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})

    @property
    def build_params(self) -> dict[str, Any]:
        """The parameters and, when they are learned, the build options the Keras build takes."""
        if not activation_registry.learned(self.name, self.trainable):
            return self.params
        return {**self.params, "trainable": True, "shared": self.shared or "layer"}


CLIP_FIELDS = ("clipnorm", "clipvalue", "global_clipnorm")


class OptimizerSpec(Strict):
    name: Literal["adam", "sgd", "rmsprop"] = "adam"
    learning_rate: float = Field(default=0.001, gt=0)
    momentum: float = Field(default=0.0, ge=0)
    clipnorm: Annotated[PositiveFloat | None, WHEN_SET] = None  # each weight's gradient clipped to this L2 norm
    clipvalue: Annotated[PositiveFloat | None, WHEN_SET] = None  # each gradient value clipped to [-v, v]
    global_clipnorm: Annotated[PositiveFloat | None, WHEN_SET] = None  # all gradients together clipped to this norm

    @model_validator(mode="after")
    def _momentum_where_it_exists(self):
        if self.momentum and self.name == "adam":
            raise ValueError("momentum applies to sgd and rmsprop only, not adam")
        clips = [k for k in CLIP_FIELDS if getattr(self, k) is not None]
        if len(clips) > 1:
            raise ValueError(
                f"give at most one of {', '.join(CLIP_FIELDS)} (Keras allows one), not {' and '.join(clips)}"
            )
        return self


OptimizerPatch = patch_of(OptimizerSpec, "OptimizerPatch")


class TrainingPatch(Patch):
    """What a model or variant may change of `training`: optimizer settings, epochs and batch size.
    The data settings (validation split, limits) stay the grid's, so every variant sees the same examples."""

    optimizer: OptimizerPatch | None = None  # type: ignore[valid-type]
    epochs: int | None = Field(default=None, gt=0)
    batch_size: int | None = Field(default=None, gt=0)


# The fields that describe the reference family; a builder or a saved model replaces all of them.
REFERENCE_FIELDS = (
    "conv_filters",
    "kernel_size",
    "pool_size",
    "padding",
    "dense_units",
    "batch_norm",
    "norm",
    "residual",
    "kernel_initializer",
    "dropout",
)


class ModelSpec(Strict):
    label: str = "reference"
    conv_filters: list[int] = Field(default=[32], min_length=1)
    kernel_size: int = Field(default=3, gt=0)
    pool_size: int = Field(default=2, gt=0)
    padding: Literal["valid", "same"] = "valid"
    dense_units: list[int] = Field(default=[128])
    batch_norm: bool = False  # kept for old configs: an alias of norm: batch
    # in the hash only when layer: batch_norm says none or batch, as it did before norm existed
    norm: Annotated[Literal["none", "batch", "layer"], HashedWhenSet(unset=("none", "batch"))] = "none"
    residual: Annotated[bool, WHEN_SET] = False
    kernel_initializer: Annotated[str, WHEN_SET] = "glorot_uniform"
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    training: Annotated[TrainingPatch | None, WHEN_SET] = (
        None  # this model's changes to `training` (e.g. a learning rate)
    )
    # "module:function", called as function(act, input_shape, num_classes): the user's own network
    # instead of the reference family (training/user_model.py)
    builder: Annotated[str | None, WHEN_SET] = None
    # a saved model (a .keras file or its JSON config) whose architecture is re-created with fresh
    # weights and its hidden activations replaced by the run's (training/saved_model.py)
    keras_model: Annotated[str | None, WHEN_SET] = None

    @field_validator("keras_model")
    @classmethod
    def _keras_or_json(cls, v):
        if v is not None and not v.lower().endswith((".keras", ".json")):
            raise ValueError(
                f"keras_model '{v}' must be a .keras file or the model's JSON config (model.to_json()) in a .json file"
            )
        return v

    @field_validator("builder")
    @classmethod
    def _module_function(cls, v):
        if v is not None and not re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*", v):
            raise ValueError(f"builder '{v}' must look like 'module:function' (a file module.py beside the config)")
        return v

    @model_validator(mode="after")
    def _builder_alone(self) -> ModelSpec:
        """A builder or a saved model makes the whole network: a reference-family field, or the other
        of the two, beside it would be ignored."""
        if self.builder is None and self.keras_model is None:
            return self
        if self.builder is not None and self.keras_model is not None:
            raise ValueError(
                f"give either builder '{self.builder}' or keras_model '{self.keras_model}' (each makes the "
                "whole network), not both"
            )
        source = f"builder '{self.builder}'" if self.builder is not None else f"keras_model '{self.keras_model}'"
        ignored = [
            name
            for name in REFERENCE_FIELDS
            if getattr(self, name) != type(self).model_fields[name].get_default(call_default_factory=True)
        ]
        if ignored:
            raise ValueError(
                f"{source} makes the whole network, so {', '.join(ignored)} would be ignored: "
                "remove them (only label and training go with a builder or a keras_model)"
            )
        return self

    @field_validator("conv_filters", "dense_units")
    @classmethod
    def _positive(cls, v):
        if any(n <= 0 for n in v):
            raise ValueError("every entry must be a positive integer")
        return v

    @field_validator("kernel_initializer")
    @classmethod
    def _known_initializer(cls, v):
        if v not in KERNEL_INITIALIZERS:
            raise ValueError(
                f"unknown kernel_initializer '{v}'{did_you_mean(v, list(KERNEL_INITIALIZERS))}; "
                f"valid: {', '.join(KERNEL_INITIALIZERS)}"
            )
        return v

    @model_validator(mode="after")
    def _norm_and_its_alias(self) -> ModelSpec:
        """batch_norm: true is norm: batch; given together they must agree. Afterwards both say the same."""
        given = self.model_fields_set
        if "norm" in given and "batch_norm" in given and self.batch_norm != (self.norm == "batch"):
            raise ValueError(
                f"batch_norm: {str(self.batch_norm).lower()} contradicts norm: {self.norm}; "
                "batch_norm is the old spelling of norm: batch, give norm alone"
            )
        if self.batch_norm:
            self._settle(norm="batch")
        self._settle(batch_norm=self.norm == "batch")
        return self


class TrainingSpec(Strict):
    optimizer: OptimizerSpec = OptimizerSpec()
    epochs: int = Field(default=2, gt=0)
    batch_size: int = Field(default=32, gt=0)
    validation_split: float = Field(default=0.1, ge=0.0, lt=1.0)
    train_limit: int | None = Field(default=None, gt=0)
    test_limit: int | None = Field(default=None, gt=0)
    deterministic: bool = True
    engine: Literal["packed", "sequential"] = "packed"

    @model_validator(mode="after")
    def _global_clip_alone(self):
        # The packed engine trains every activation of a group in one model with one optimizer:
        # a global norm would be taken over all of them together and couple their training.
        if self.optimizer.global_clipnorm is not None and self.engine == "packed":
            raise ValueError(
                "optimizer.global_clipnorm needs engine: sequential (the packed engine's one optimizer "
                "would clip all activations' gradients together); or use clipnorm, which is per weight"
            )
        return self


ModelPatch = patch_of(ModelSpec, "ModelPatch", exclude=("label", "training"))


class VariantSpec(Strict):
    """One labelled entry of `variants:`: changes to the experiment's `model` and/or `training`."""

    label: str
    model: ModelPatch | None = None  # type: ignore[valid-type]
    training: TrainingPatch | None = None

    @field_validator("label")
    @classmethod
    def _label_pattern(cls, v):
        if not re.fullmatch(LABEL_PATTERN, v):
            raise ValueError(f"label '{v}' may use letters, digits and . _ = + : - only")
        return v


class DiagnosticsSpec(Strict):
    gradients: bool = True
    dead_units: bool = True
    saturation: bool = True
    timing: bool = True
    probe_size: int = Field(default=256, gt=0)
    dead_threshold: float = Field(default=1e-3, gt=0)
    saturation_margin: float = Field(default=1e-2, gt=0)
    # pre_mean/<layer>, pre_std, pre_p1, pre_p50, pre_p99: what each activation receives on the probe batch
    preactivations: Annotated[bool, WHEN_SET] = False


class OutputSpec(Strict):
    dir: str | None = None


def patched_training(base: TrainingSpec, patch: TrainingPatch | None) -> TrainingSpec:
    """`base` with the changes of `patch` (None: base itself)."""
    if patch is None:
        return base
    return TrainingSpec.model_validate(_merged(base.model_dump(), patch.model_dump()))


def variant_model(base: ModelSpec, variant: VariantSpec) -> ModelSpec:
    """The model of a variant: `base` with the variant's label and changes; its training changes
    follow those of `base` (a variant's win where both set the same field)."""
    data = base.model_dump()
    changes: dict[str, Any] = variant.model.given() if variant.model is not None else {}
    if {"norm", "batch_norm"} & changes.keys():  # either spelling replaces the base's normalization
        data.pop("norm", None)
        data.pop("batch_norm", None)
    if {"builder", "keras_model"} & changes.keys():  # the variant brings its own network: it replaces the base's
        for name in (*REFERENCE_FIELDS, "builder", "keras_model"):
            data.pop(name, None)
    data.update(changes, label=variant.label)
    if variant.training is not None:
        data["training"] = _merged(data.get("training") or {}, variant.training.model_dump())
    return ModelSpec.model_validate(data)


def _merged(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """base with changes applied, nested mappings merged key by key."""
    out = dict(base)
    for key, value in changes.items():
        out[key] = _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out
