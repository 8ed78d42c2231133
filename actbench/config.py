"""The experiment config: pydantic models and load(path) -> Experiment.

An Experiment is complete once validated, whether it came from YAML or from Python
(`Experiment(name=..., datasets=[...], activations=[...])`): activation labels, the
baseline and the list of models are filled in by validators. It is immutable: derive a
changed copy with `with_overrides`. Values are strict (no true -> 1, no "1" -> 1; an
integer is accepted where a number is expected) and floats must be finite.

Every config error starts here (or in configfile.py, which reads the file) and names the
file, the line, the field path, the value received and what is allowed. Nothing in this
module imports Keras.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
    model_serializer,
    model_validator,
)

from . import activations as activation_registry
from . import custom_activations, datasets
from .configfile import format_problems, format_validation, parse_yaml, read_text, shown
from .errors import ConfigError, did_you_mean
from .model import KERNEL_INITIALIZERS

DATASET_NAMES = datasets.names()
LABEL_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._=+:-]*"
TUNED_LABEL = "tuned"  # results.TUNED_MODEL (not imported: results needs pandas, validate does not)
MAX_SEED = 2**31 - 1  # every backend's seeding accepts it
PositiveFloat = Annotated[float, Field(gt=0)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)

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
        if not self.label:
            self._settle(label=activation_registry.default_label(self.name, self.params))
        elif not re.fullmatch(LABEL_PATTERN, self.label):
            raise ValueError(f"label '{self.label}' may use letters, digits and . _ = + : - only")
        return self

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


CLIP_FIELDS = ("clipnorm", "clipvalue", "global_clipnorm")


class OptimizerSpec(Strict):
    name: Literal["adam", "sgd", "rmsprop"] = "adam"
    learning_rate: float = Field(default=0.001, gt=0)
    momentum: float = Field(default=0.0, ge=0)
    clipnorm: PositiveFloat | None = None  # each weight's gradient clipped to this L2 norm
    clipvalue: PositiveFloat | None = None  # each gradient value clipped to [-clipvalue, clipvalue]
    global_clipnorm: PositiveFloat | None = None  # all gradients together clipped to this L2 norm

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

    @model_serializer(mode="wrap")
    def _without_new_defaults(self, handler):
        """Clipping was added after configs were hashed: left out when unset, so older configs keep their hash."""
        return _drop_at(handler(self), dict.fromkeys(CLIP_FIELDS))


OptimizerPatch = patch_of(OptimizerSpec, "OptimizerPatch")


class TrainingPatch(Patch):
    """What a model or variant may change of `training`: optimizer settings, epochs and batch size.
    The data settings (validation split, limits) stay the grid's, so every variant sees the same examples."""

    optimizer: OptimizerPatch | None = None  # type: ignore[valid-type]
    epochs: int | None = Field(default=None, gt=0)
    batch_size: int | None = Field(default=None, gt=0)


class ModelSpec(Strict):
    label: str = "reference"
    conv_filters: list[int] = Field(default=[32], min_length=1)
    kernel_size: int = Field(default=3, gt=0)
    pool_size: int = Field(default=2, gt=0)
    padding: Literal["valid", "same"] = "valid"
    dense_units: list[int] = Field(default=[128])
    batch_norm: bool = False  # kept for old configs: an alias of norm: batch
    norm: Literal["none", "batch", "layer"] = "none"
    residual: bool = False
    kernel_initializer: str = "glorot_uniform"
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    training: TrainingPatch | None = None  # this model's changes to `training` (e.g. a learning rate)

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

    @model_serializer(mode="wrap")
    def _without_new_defaults(self, handler):
        """Fields added after configs were hashed are left out at their defaults, so every older
        config keeps its hash; norm is left out unless it is layer (batch_norm says none/batch)."""
        data = handler(self)
        if data.get("norm") != "layer":
            data.pop("norm", None)
        return _drop_at(data, {"residual": False, "kernel_initializer": "glorot_uniform", "training": None})


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


class OutputSpec(Strict):
    dir: str | None = None


class Experiment(Strict):
    name: str
    datasets: list[str] = Field(min_length=1)
    activations: list[ActivationSpec] = Field(min_length=1)
    seeds: list[int] = Field(default=[0], min_length=1)
    baseline: str | None = Field(default=None, validate_default=True)  # default: relu when in the grid
    training: TrainingSpec = TrainingSpec()
    model: ModelSpec | None = None
    models: list[ModelSpec] | None = Field(default=None, min_length=1)
    variants: list[VariantSpec] | None = Field(default=None, min_length=1)  # labelled changes to model/training
    tune: bool = False  # per (dataset, activation): the model/variant with the best mean validation accuracy
    diagnostics: DiagnosticsSpec = DiagnosticsSpec()
    backend: Literal["tensorflow", "jax"] = "tensorflow"  # actbench.backends.NAMES
    data_dir: str | None = None
    data_verify: bool = True
    output: OutputSpec = OutputSpec()
    description: str = ""  # free text for people, shown at the top of the report; not in the hash

    @field_validator("name")
    @classmethod
    def _safe_name(cls, v):
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", v):
            raise ValueError("use letters, digits, '.', '_' and '-' only (it names the output dir)")
        return v

    @field_validator("activations")
    @classmethod
    def _distinct_labels(cls, v):
        labels = [a.label for a in v]
        _check_unique("activation", labels, "give each entry a distinct 'label'")
        return v

    @field_validator("baseline")
    @classmethod
    def _baseline_is_a_label(cls, v, info: ValidationInfo):
        if "activations" not in info.data:
            return v  # the activations are invalid and reported already
        labels = [a.label for a in info.data["activations"]]
        if v is None:
            return "relu" if "relu" in labels else None
        if v not in labels:
            raise ValueError(
                f"baseline '{v}' is not one of the activation labels ({', '.join(labels)}){did_you_mean(v, labels)}"
            )
        return v

    @field_validator("seeds")
    @classmethod
    def _unique_seeds(cls, v):
        if len(set(v)) != len(v):
            raise ValueError("seeds must be unique")
        if any(s < 0 or s > MAX_SEED for s in v):
            raise ValueError(f"seeds must be integers from 0 to {MAX_SEED}")
        return v

    @field_validator("datasets")
    @classmethod
    def _known_datasets(cls, v):
        for name in v:
            if name not in DATASET_NAMES:
                raise ValueError(
                    f"unknown dataset '{name}'{did_you_mean(name, DATASET_NAMES)}; valid: {', '.join(DATASET_NAMES)}"
                )
        if len(set(v)) != len(v):
            raise ValueError("datasets must be unique")
        return v

    @field_validator("models")
    @classmethod
    def _models_train(cls, v, info: ValidationInfo):
        """Each model's training changes, applied to `training`, must give a valid training."""
        if v is not None and "training" in info.data:
            for i, m in enumerate(v):
                _problem_in(f"models[{i}] ({m.label})", "training", patched_training, info.data["training"], m.training)
        return v

    @field_validator("variants")
    @classmethod
    def _variants_apply(cls, v, info: ValidationInfo):
        """Each variant, applied to `model` and `training`, must give a valid model and training."""
        if v is not None and "training" in info.data and "model" in info.data:
            for i, variant in enumerate(v):
                where = f"variants[{i}] ({variant.label})"
                model = _problem_in(where, "", variant_model, info.data["model"] or ModelSpec(), variant)
                _problem_in(where, "training", patched_training, info.data["training"], model.training)
        return v

    @model_validator(mode="after")
    def _one_list_of_models(self) -> Experiment:
        if self.model is not None and self.models is not None:
            raise ValueError("give either 'model' (one architecture) or 'models' (a list), not both")
        if self.variants is not None:
            if self.models is not None:
                raise ValueError("give either 'models' or 'variants' (changes to 'model' and 'training'), not both")
            self._settle(models=[variant_model(self.model or ModelSpec(), v) for v in self.variants], variants=None)
        if self.models is None:
            self._settle(models=[self.model or ModelSpec()])
        self._settle(model=None)
        labels = [m.label for m in self.models or []]
        _check_unique("model", labels, "give each model or variant a distinct 'label'")
        if self.tune:
            if len(labels) < 2:
                raise ValueError("tune: true chooses among models or variants; give at least two")
            if not self.training.validation_split:
                raise ValueError("tune: true chooses by validation accuracy; set training.validation_split above 0")
            if TUNED_LABEL in labels:
                raise ValueError(f"'{TUNED_LABEL}' labels the tuned comparison; give that model another label")
        return self

    @model_serializer(mode="wrap")
    def _without_new_defaults(self, handler):
        """variants are folded into models once validated; tune was added after configs were hashed."""
        return _drop_at(handler(self), {"variants": None, "tune": False, "description": ""})

    def training_for(self, arch: ModelSpec) -> TrainingSpec:
        """The training of one model of the grid: `training` with the model's (or variant's) changes."""
        return patched_training(self.training, arch.training)

    @property
    def architectures(self) -> list[ModelSpec]:
        """The models of the grid (a one-entry list for `model:`); never None once validated."""
        assert self.models is not None  # filled in by _one_list_of_models
        return self.models

    @property
    def activation_specs(self) -> list[ActivationSpec]:
        return self.activations

    @property
    def labels(self) -> list[str]:
        return [a.label for a in self.activations]

    @property
    def output_dir(self) -> Path:
        return Path(self.output.dir or f"results/{self.name}")

    def config_hash(self) -> str:
        """Hash of what determines the numbers: everything except where things are written
        or read from, which engine packs the work (engines are tested equivalent) and the description."""
        data = self.model_dump(
            mode="json",
            exclude={
                "output": True,
                "data_dir": True,
                "data_verify": True,
                "description": True,
                "training": {"engine"},
            },
        )
        blob = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    def with_overrides(self, changes: dict[str, Any]) -> Experiment:
        """A validated copy with dotted fields replaced, e.g. {"training.engine": "sequential"}."""
        data = self.model_dump()
        for path, value in changes.items():
            *parents, last = path.split(".")
            node = data
            for part in parents:
                node = node[part]
            if last not in node:
                raise KeyError(f"with_overrides: no field '{path}'")
            node[last] = value
        return Experiment.model_validate(data)


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


def _problem_in(where: str, section: str, build, *args):
    """build(*args), with a validation problem re-raised as one ValueError that says where it comes
    from: the entry (`where`) and the field within it, under `section` (e.g. "training")."""
    try:
        return build(*args)
    except ValidationError as e:
        first = e.errors()[0]
        field = ".".join([section, *(str(p) for p in first["loc"])][0 if section else 1 :])
        raise ValueError(
            f"{where}: {field + ': ' if field else ''}{first['msg'].removeprefix('Value error, ')}"
        ) from None


def _drop_at(data: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """`data` without the keys whose value equals the given default."""
    return {k: v for k, v in data.items() if k not in defaults or v != defaults[k]}


def _check_unique(kind: str, labels: list[str], hint: str) -> None:
    if len(set(labels)) != len(labels):
        dups = sorted({x for x in labels if labels.count(x) > 1})
        raise ValueError(f"duplicate {kind} label(s) {', '.join(dups)}; {hint}")


# ---------------------------------------------------------------- loading


def load(path: str | Path) -> Experiment:
    """Read, parse and validate a config file. Custom activation modules must be found in the
    config's directory or the working directory; they are imported (and checked) later, by
    custom_activations.check_behaviour, once the backend is chosen."""
    path = Path(path)
    text = read_text(path)
    data = parse_yaml(path, text)
    if not isinstance(data, dict):
        got = "an empty file" if data is None else shown(data)
        raise ConfigError(
            f"{path}: expected a mapping of settings at the top level (name, datasets, activations, ...), got {got}."
        )
    data.setdefault("name", path.stem)
    try:
        exp = Experiment.model_validate(data)
    except ValidationError as e:
        raise ConfigError(format_validation(path, text, e, Experiment)) from None
    problems = []
    for i, spec in enumerate(exp.activations):
        if activation_registry.is_custom(spec.name):
            try:
                custom_activations.locate(spec.name, search_dirs_for(path))
            except activation_registry.ActivationSpecError as e:
                problems.append((("activations", i), str(e)))
    if problems:
        raise ConfigError(format_problems(path, text, problems))
    return exp


def search_dirs_for(config_path: Path) -> list[Path]:
    """Where custom activation modules are looked for: the config's directory, then the working directory."""
    return [config_path.resolve().parent, Path.cwd()]


def resolved_config(exp: Experiment) -> dict:
    """The config as run (defaults filled in, labels resolved), for metadata.json."""
    return exp.model_dump(mode="json")


def data_dir_of(exp: Experiment, override: str | None = None) -> str | None:
    return override or exp.data_dir or os.environ.get("ACTBENCH_DATA_DIR") or None
