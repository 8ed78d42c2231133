"""The experiment config: pydantic models and load(path) -> Experiment.

Every config error starts here and names the file, the line, the field path and what
is allowed. Nothing in this module imports Keras.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import types
import typing
from pathlib import Path
from typing import Any, Literal, Union

import yaml
from pydantic import (BaseModel, ConfigDict, Field, ValidationError, field_validator,
                      model_validator)

from . import activations as activation_registry, datasets
from .errors import ConfigError, did_you_mean

DATASET_NAMES = datasets.names()


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ActivationSpec(Strict):
    """One activation in the grid: a registry name (or module:function) and its parameters."""

    model_config = ConfigDict(extra="allow")  # the parameters; checked against the registry below
    name: str
    label: str | None = None

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class ModelSpec(Strict):
    label: str = "reference"
    conv_filters: list[int] = Field(default=[32], min_length=1)
    kernel_size: int = Field(default=3, gt=0)
    pool_size: int = Field(default=2, gt=0)
    padding: Literal["valid", "same"] = "valid"
    dense_units: list[int] = Field(default=[128])
    batch_norm: bool = False
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)

    @field_validator("conv_filters", "dense_units")
    @classmethod
    def _positive(cls, v):
        if any(n <= 0 for n in v):
            raise ValueError("every entry must be a positive integer")
        return v


class OptimizerSpec(Strict):
    name: Literal["adam", "sgd", "rmsprop"] = "adam"
    learning_rate: float = Field(default=0.001, gt=0)
    momentum: float = Field(default=0.0, ge=0)

    @model_validator(mode="after")
    def _momentum_where_it_exists(self):
        if self.momentum and self.name == "adam":
            raise ValueError("momentum applies to sgd and rmsprop only, not adam")
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
    activations: list[Union[str, ActivationSpec]] = Field(min_length=1)
    seeds: list[int] = Field(default=[0], min_length=1)
    baseline: str | None = None
    model: ModelSpec | None = None
    models: list[ModelSpec] | None = Field(default=None, min_length=1)
    training: TrainingSpec = TrainingSpec()
    diagnostics: DiagnosticsSpec = DiagnosticsSpec()
    backend: Literal["tensorflow", "jax"] = "tensorflow"  # actbench.backends.NAMES
    data_dir: str | None = None
    data_verify: bool = True
    output: OutputSpec = OutputSpec()

    @field_validator("name")
    @classmethod
    def _safe_name(cls, v):
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", v):
            raise ValueError("use letters, digits, '.', '_' and '-' only (it names the output dir)")
        return v

    @field_validator("activations")
    @classmethod
    def _as_specs(cls, v):
        return [ActivationSpec(name=a) if isinstance(a, str) else a for a in v]

    @field_validator("seeds")
    @classmethod
    def _unique_seeds(cls, v):
        if len(set(v)) != len(v):
            raise ValueError("seeds must be unique")
        if any(s < 0 for s in v):
            raise ValueError("seeds must be non-negative integers")
        return v

    @field_validator("datasets")
    @classmethod
    def _known_datasets(cls, v):
        for name in v:
            if name not in DATASET_NAMES:
                raise ValueError(f"unknown dataset '{name}'{did_you_mean(name, DATASET_NAMES)}; "
                                 f"valid: {', '.join(DATASET_NAMES)}")
        if len(set(v)) != len(v):
            raise ValueError("datasets must be unique")
        return v

    @model_validator(mode="after")
    def _resolve(self):
        if self.model is not None and self.models is not None:
            raise ValueError("give either 'model' (one architecture) or 'models' (a list), not both")
        if self.models is None:
            self.models = [self.model or ModelSpec()]
            self.model = None
        labels = [m.label for m in self.models]
        if len(set(labels)) != len(labels):
            raise ValueError(f"models: duplicate label(s) {sorted({x for x in labels if labels.count(x) > 1})}")
        return self

    @property
    def activation_specs(self) -> list[ActivationSpec]:
        return typing.cast(list[ActivationSpec], self.activations)

    @property
    def labels(self) -> list[str]:
        return [a.label for a in self.activation_specs]

    @property
    def output_dir(self) -> Path:
        return Path(self.output.dir or f"results/{self.name}")

    def config_hash(self) -> str:
        """Hash of what determines the numbers: everything except where things are written
        or read from and which engine packs the work (engines are tested equivalent)."""
        data = self.model_dump(mode="json", exclude={"output": True, "data_dir": True, "data_verify": True,
                                                     "training": {"engine"}})
        blob = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:12]


# ---------------------------------------------------------------- loading

def load(path: str | Path) -> Experiment:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: config file not found.")
    if path.is_dir():
        raise ConfigError(f"{path}: is a directory; pass a YAML config file.")
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError(f"{path}{where}: YAML syntax error: {problem}.") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level "
                          f"(name, datasets, activations, ...), got {type(data).__name__}.")
    data.setdefault("name", path.stem)
    try:
        exp = Experiment.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_format_validation(path, text, e)) from None
    _check_activations(path, text, exp)
    return exp


def _check_activations(path: Path, text: str, exp: Experiment) -> None:
    """Registry checks pydantic cannot do: known names, allowed parameters, labels, baseline."""
    problems = []
    for i, spec in enumerate(exp.activation_specs):
        loc = ("activations", i)
        try:
            activation_registry.validate(spec.name, spec.params)
        except activation_registry.ActivationSpecError as e:
            problems.append((loc, str(e)))
            continue
        if spec.label is None:
            spec.label = activation_registry.default_label(spec.name, spec.params)
        elif not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._=+:-]*", spec.label):
            problems.append((loc + ("label",), f"label '{spec.label}' may use letters, digits and . _ = + : - only"))
    if problems:
        raise ConfigError(_format_problems(path, text, problems))
    labels = exp.labels
    dups = sorted({x for x in labels if labels.count(x) > 1})
    if dups:
        first = labels.index(dups[0])
        second = labels.index(dups[0], first + 1)
        raise ConfigError(_format_problems(path, text, [(("activations", second),
                          f"duplicate activation label(s) {', '.join(dups)}; give each entry a distinct 'label'")]))
    if exp.baseline is None:
        exp.baseline = "relu" if "relu" in labels else None
    elif exp.baseline not in labels:
        raise ConfigError(_format_problems(path, text, [(("baseline",),
                          f"baseline '{exp.baseline}' is not one of the activation labels "
                          f"({', '.join(labels)}){did_you_mean(exp.baseline, labels)}")]))


# ---------------------------------------------------------------- error messages

def _format_validation(path: Path, text: str, err: ValidationError) -> str:
    problems = []
    for e in err.errors():
        loc = tuple(x for x in e["loc"] if not (isinstance(x, str) and ("[" in x or x in ("str", "ActivationSpec"))))
        if e["type"] == "extra_forbidden":
            parent = _model_at(Experiment, loc[:-1])
            allowed = ", ".join(parent.model_fields) if parent else "see the README"
            msg = f"unknown key '{loc[-1]}'{did_you_mean(str(loc[-1]), list(parent.model_fields) if parent else [])}; allowed keys: {allowed}"
        elif e["type"] == "missing":
            msg = "required field is missing"
        else:
            msg = e["msg"].removeprefix("Value error, ")
            if e["type"] not in ("value_error",) and "input" in e and not isinstance(e["input"], (dict, list)):
                msg += f" (got {e['input']!r})"
        problems.append((loc, msg))
    # An activation written as a mapping fails both union branches; report it once.
    seen, unique = set(), []
    for loc, msg in problems:
        if (loc, msg) not in seen:
            seen.add((loc, msg))
            unique.append((loc, msg))
    return _format_problems(path, text, unique)


def _format_problems(path: Path, text: str, problems: list[tuple[tuple, str]]) -> str:
    lines = [f"{path}: invalid config"]
    for loc, msg in problems[:10]:
        field = _dotted(loc) or "(top level)"
        line = _line_of(text, loc)
        where = f"line {line}, " if line else ""
        lines.append(f"  {where}{field}: {msg}")
    if len(problems) > 10:
        lines.append(f"  ... and {len(problems) - 10} more")
    return "\n".join(lines)


def _dotted(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _line_of(text: str, loc: tuple) -> int | None:
    """The 1-based line of the YAML node at loc (or of its nearest existing parent)."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    line = None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == part:
                    line = key.start_mark.line + 1
                    node = value
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line if line is not None else (node.start_mark.line + 1 if node is not None else None)


def _model_at(model: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """The pydantic model class found by following loc from model (for 'allowed keys')."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)) or part not in current.model_fields:
            return None
        current = current.model_fields[part].annotation
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(tp):
    # list[X] -> X; Optional[X] / Union[str, X] -> the BaseModel member
    while True:
        origin = typing.get_origin(tp)
        if origin is list:
            tp = typing.get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            members = [a for a in typing.get_args(tp) if isinstance(a, type) and issubclass(a, BaseModel)]
            tp = members[0] if members else tp
            if not members:
                return tp
        else:
            return tp


def resolved_config(exp: Experiment) -> dict:
    """The config as run (defaults filled in, labels resolved), for metadata.json."""
    return exp.model_dump(mode="json")


def data_dir_of(exp: Experiment, override: str | None = None) -> str | None:
    return override or exp.data_dir or os.environ.get("ACTBENCH_DATA_DIR") or None
