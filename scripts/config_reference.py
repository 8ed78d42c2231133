"""Write docs/config.md's field tables from the pydantic models in actbench/config/.

python scripts/config_reference.py          # rewrite docs/config.md in place
python scripts/config_reference.py --check  # exit 1 when it differs (tests/test_docs.py does the same)

A block `<!-- fields: training -->` ... `<!-- /fields -->` holds one table of that section:
field, type, default, allowed values, whether it enters the config hash, and the comment beside
the field in the source (the code's own words, so they drift with it).
"""

from __future__ import annotations

import inspect
import io
import re
import sys
import tokenize
import types
import typing
from typing import Any, Literal, Union

import annotated_types
from doc_blocks import ROOT, main
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from actbench.config import experiment, specs

DOC = ROOT / "docs" / "config.md"
KIND = "fields"
SECTIONS: dict[str, type[BaseModel]] = {
    "top level": experiment.Experiment,
    "activations[]": specs.ActivationSpec,
    "model": specs.ModelSpec,
    "variants[]": specs.VariantSpec,
    "training": specs.TrainingSpec,
    "training.optimizer": specs.OptimizerSpec,
    "diagnostics": specs.DiagnosticsSpec,
    "output": specs.OutputSpec,
}


def type_text(annotation: Any) -> str:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return type_text(args[0])
    if origin is Literal:
        return " \\| ".join(str(a) for a in args)
    if origin in (Union, types.UnionType):
        shown = [type_text(a) for a in args if a is not type(None)]
        return " or ".join(shown) + (" or null" if type(None) in args else "")
    if origin is list:
        return f"list of {type_text(args[0])}"
    if annotation is specs.ActivationSpec:  # written as a name or as a mapping with parameters
        return "name or mapping"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "mapping"
    return {int: "integer", float: "number", str: "text", bool: "true/false"}.get(annotation, str(annotation))


def yaml_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return value or '""'
    if isinstance(value, BaseModel):
        return "its defaults"
    return str(value)


def constraints(annotation: Any) -> list[Any]:
    """The Field bounds hidden inside an annotation (PositiveFloat | None holds a Gt)."""
    found: list[Any] = []
    if typing.get_origin(annotation) is typing.Annotated:
        for m in typing.get_args(annotation)[1:]:
            found += m.metadata if isinstance(m, FieldInfo) else [m]
    for arg in typing.get_args(annotation):
        found += constraints(arg)
    return found


# Allowed values a field validator checks (pydantic cannot show those): the same lists the validators use.
CHECKED_VALUES = {
    ("top level", "datasets"): ", ".join(specs.DATASET_NAMES),
    ("top level", "seeds"): f"unique, 0 to {specs.MAX_SEED}",
    ("model", "kernel_initializer"): ", ".join(specs.KERNEL_INITIALIZERS),
}


def bounds(metadata: list[Any]) -> str:
    out = []
    for m in metadata:
        if isinstance(m, annotated_types.Gt):
            out.append(f"> {m.gt}")
        elif isinstance(m, annotated_types.Ge):
            out.append(f">= {m.ge}")
        elif isinstance(m, annotated_types.Lt):
            out.append(f"< {m.lt}")
        elif isinstance(m, annotated_types.MinLen):
            out.append(f"at least {m.min_length} entr{'y' if m.min_length == 1 else 'ies'}")
    return ", ".join(out)


def source_comments(cls: type) -> dict[str, str]:
    """The comment on a field's line, or on the lines right above it, or inside its default."""
    comments: dict[str, str] = {}
    pending: list[str] = []
    field = None
    source = inspect.getsource(cls)
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.NAME and tok.start[1] == 4 and re.match(rf"\s{{4}}{tok.string}\s*:", tok.line):
            field = tok.string
            if pending:
                comments[field] = " ".join(pending)
            pending = []
        elif tok.type == tokenize.COMMENT:
            text = re.sub(r"\s*(type: ignore|noqa).*$", "", tok.string.lstrip("# ").strip())
            if not text:
                continue
            if tok.start[1] == 4 and tok.line.strip().startswith("#"):
                pending.append(text)  # a comment line of its own: it belongs to the next field
            elif field:
                comments[field] = (comments.get(field, "") + " " + text).strip()
        elif tok.type == tokenize.NAME and tok.string in ("def", "class") and tok.start[1] == 4:
            field, pending = None, []
    return comments


def hashed(section: str, cls: type[BaseModel], name: str, info: Any) -> str:
    if experiment.NOT_HASHED.get(section) is True:  # a whole section left out, e.g. output
        return "no"
    if cls is experiment.Experiment and name in experiment.NOT_HASHED:
        kept_out = experiment.NOT_HASHED[name]
        return "no" if kept_out is True else "yes, but not " + ", ".join(sorted(kept_out))
    if cls is specs.TrainingSpec and name in experiment.NOT_HASHED["training"]:
        return "no"
    if any(isinstance(m, specs.HashedWhenSet) for m in info.metadata):
        return "when not default"
    return "yes"


def field_table(section: str) -> str:
    cls = SECTIONS[section]
    comments = source_comments(cls)
    lines = ["| field | type | default | allowed | in hash | note |", "|---|---|---|---|---|---|"]
    for name, info in cls.model_fields.items():
        default = "required" if info.is_required() else yaml_value(info.get_default(call_default_factory=True))
        allowed = ", ".join(
            a for a in (bounds(info.metadata + constraints(info.annotation)), CHECKED_VALUES.get((section, name))) if a
        )
        note = comments.get(name, "").replace("|", "\\|")
        cells = [
            f"`{name}`",
            type_text(info.annotation),
            f"`{default}`",
            allowed,
            hashed(section, cls, name, info),
            note,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main(DOC, KIND, field_table, sys.argv))
