"""The experiment config: Experiment (its parts are in specs.py) and load(path) -> Experiment.

An Experiment is complete once validated, whether it came from YAML or from Python
(`Experiment(name=..., datasets=[...], activations=[...])`): activation labels, the
baseline and the list of models are filled in by validators. It is immutable: derive a
changed copy with `with_overrides`. Values are strict (no true -> 1, no "1" -> 1; an
integer is accepted where a number is expected) and floats must be finite.

Every config error starts here (or in yamlfile.py, which reads the file) and names the
file, the line, the field path, the value received and what is allowed. Nothing in this
module imports Keras.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator

from actbench import activations as activation_registry
from actbench.activations import custom as custom_activations
from actbench.errors import ActivationSpecError, ConfigError, did_you_mean
from actbench.results.keys import TUNED_MODEL
from actbench.training.backends import NAMES as BACKEND_NAMES

from .specs import (  # re-exported: the config's parts are config.ModelSpec, ... to every caller
    CLIP_FIELDS,
    DATASET_NAMES,
    LABEL_PATTERN,
    MAX_SEED,
    WHEN_SET,
    ActivationSpec,
    DiagnosticsSpec,
    ModelSpec,
    OptimizerSpec,
    OutputSpec,
    Strict,
    TrainingPatch,
    TrainingSpec,
    VariantSpec,
    patched_training,
    variant_model,
)
from .yamlfile import format_problems, format_validation, parse_yaml, read_text, shown

__all__ = [
    "CLIP_FIELDS",
    "DATASET_NAMES",
    "LABEL_PATTERN",
    "MAX_SEED",
    "ActivationSpec",
    "DiagnosticsSpec",
    "Experiment",
    "ModelSpec",
    "OptimizerSpec",
    "OutputSpec",
    "TrainingPatch",
    "TrainingSpec",
    "VariantSpec",
    "from_mapping",
    "load",
    "resolved_config",
    "search_dirs_for",
]


# Fields that never enter the config hash: where things are written or read from, which engine
# packs the work (the engines are tested equivalent), the description. Fields added after configs
# were first hashed enter it only when set: they carry WHEN_SET (specs.HashedWhenSet).
NOT_HASHED: dict[str, Any] = {
    "output": True,
    "data_dir": True,
    "data_verify": True,
    "description": True,
    "training": {"engine"},
}


class Experiment(Strict):
    name: str
    datasets: list[str] = Field(min_length=1)
    activations: list[ActivationSpec] = Field(min_length=1)
    seeds: list[int] = Field(default=[0], min_length=1)
    baseline: str | None = Field(default=None, validate_default=True)  # default: relu when in the grid
    training: TrainingSpec = TrainingSpec()
    model: ModelSpec | None = None
    models: list[ModelSpec] | None = Field(default=None, min_length=1)
    # labelled changes to model/training (folded into models once validated)
    variants: Annotated[list[VariantSpec] | None, WHEN_SET] = Field(default=None, min_length=1)
    tune: Annotated[bool, WHEN_SET] = False  # per (dataset, activation): the model/variant of best mean val accuracy
    diagnostics: DiagnosticsSpec = DiagnosticsSpec()
    backend: Literal[BACKEND_NAMES] = "tensorflow"  # type: ignore[valid-type]  # the adapters' names
    data_dir: str | None = None
    data_verify: bool = True
    output: OutputSpec = OutputSpec()
    description: Annotated[str, WHEN_SET] = ""  # free text for people, shown at the top of the report; not in the hash

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
            if TUNED_MODEL in labels:
                raise ValueError(f"'{TUNED_MODEL}' labels the tuned comparison; give that model another label")
        return self

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
        data = self.model_dump(mode="json", exclude=NOT_HASHED)
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


def _check_unique(kind: str, labels: list[str], hint: str) -> None:
    if len(set(labels)) != len(labels):
        dups = sorted({x for x in labels if labels.count(x) > 1})
        raise ValueError(f"duplicate {kind} label(s) {', '.join(dups)}; {hint}")


# ---------------------------------------------------------------- loading


def load(path: str | Path) -> Experiment:
    """Read, parse and validate a config file. Custom activation modules must be found in the
    config's directory or the working directory; they are imported (and checked) later, by
    activation_check.check_behaviour, once the backend is chosen."""
    path = Path(path)
    text = read_text(path)
    data = parse_yaml(path, text)
    if not isinstance(data, dict):
        got = "an empty file" if data is None else shown(data)
        raise ConfigError(
            f"{path}: expected a mapping of settings at the top level (name, datasets, activations, ...), got {got}."
        )
    data.setdefault("name", path.stem)
    return _validated(data, path, text, search_dirs_for(path))


def from_mapping(data: Mapping[str, Any], source: str = "config") -> Experiment:
    """Validate a config given as a mapping (the Python API's dicts): the same checks and messages
    as a file, without line numbers; custom activation modules are looked for in the working directory."""
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"{source}: expected a mapping of settings (name, datasets, activations, ...), got {shown(data)}."
        )
    return _validated(dict(data), Path(source), "", [Path.cwd()])


def _validated(data: dict, path: Path, text: str, search_dirs: list[Path]) -> Experiment:
    try:
        exp = Experiment.model_validate(data)
    except ValidationError as e:
        raise ConfigError(format_validation(path, text, e, Experiment)) from None
    problems = []
    for i, spec in enumerate(exp.activations):
        if activation_registry.is_custom(spec.name):
            try:
                custom_activations.locate(spec.name, search_dirs)
            except ActivationSpecError as e:
                problems.append((("activations", i), str(e)))
    for builder in dict.fromkeys(a.builder for a in exp.architectures if a.builder):
        try:
            custom_activations.locate(builder, search_dirs, what="model builder")
        except ActivationSpecError as e:
            problems.append((_field_holding(data, "builder", builder), str(e)))
    for saved in dict.fromkeys(a.keras_model for a in exp.architectures if a.keras_model):
        try:
            custom_activations.locate_file(saved, search_dirs)
        except ActivationSpecError as e:
            problems.append((_field_holding(data, "keras_model", saved), str(e)))
    if problems:
        raise ConfigError(format_problems(path, text, problems))
    return exp


def _field_holding(data: Any, key: str, value: Any, where: tuple = ()) -> tuple:
    """The path of the first `key: value` in the raw config (for the message's line), else ()."""
    if isinstance(data, dict):
        if data.get(key) == value:
            return (*where, key)
        items: Any = data.items()
    elif isinstance(data, list):
        items = enumerate(data)
    else:
        return ()
    for k, v in items:
        found = _field_holding(v, key, value, (*where, k))
        if found:
            return found
    return ()


def search_dirs_for(config_path: Path) -> list[Path]:
    """Where custom activation modules are looked for: the config's directory, then the working directory."""
    return [config_path.resolve().parent, Path.cwd()]


def resolved_config(exp: Experiment) -> dict:
    """The config as run (defaults filled in, labels resolved), for metadata.json."""
    return exp.model_dump(mode="json")
