"""Reading a YAML config file and describing what is wrong with it.

The file must be UTF-8 text (a byte-order mark is allowed); a key given twice in one
mapping is an error (PyYAML would silently keep the second). Problems are reported as
`file: invalid config` followed by `line N, dotted.field: message` lines. Nothing here
knows the config's fields: experiment.py passes the pydantic model to look them up in.
"""

from __future__ import annotations

import re
import types
import typing
from pathlib import Path
from typing import Any, Union

import yaml
from pydantic import BaseModel, ValidationError

from actbench.errors import ConfigError, did_you_mean

# libyaml's parser when present: a 100,000-seed list parses in a fraction of the time.
_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_PROBLEMS = 10


class DuplicateKeyError(yaml.YAMLError):
    def __init__(self, key, first_line: int, second_line: int):
        super().__init__(f"key '{key}' appears twice in one mapping (line {first_line} and line {second_line})")
        self.key, self.first_line, self.second_line = key, first_line, second_line


INT_TAG = "tag:yaml.org,2002:int"
_PLAIN_DECIMAL = re.compile(r"-?(?:0|[1-9][0-9]*)\Z")  # YAML 1.1 reads '012' as octal: left to PyYAML


class UniqueKeyLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    """A safe loader that refuses a mapping with the same key twice.

    Plain decimal integers take a short path (a long seed list is mostly that): same
    values as PyYAML's, in a third of the time."""

    def resolve(self, kind, value, implicit):
        if kind is yaml.ScalarNode and implicit[0] and _PLAIN_DECIMAL.match(value):
            return INT_TAG
        return super().resolve(kind, value, implicit)

    def construct_sequence(self, node, deep=False):
        items = node.value if isinstance(node, yaml.SequenceNode) else None
        if items and all(
            type(n) is yaml.ScalarNode and n.tag == INT_TAG and _PLAIN_DECIMAL.match(n.value) for n in items
        ):
            return [int(n.value) for n in items]
        return super().construct_sequence(node, deep=deep)

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # '<<' merges may be overridden by explicit keys: that is YAML's meaning
                key = self.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                try:
                    if key in seen:
                        raise DuplicateKeyError(key, seen[key], line)
                    seen[key] = line
                except TypeError:
                    continue  # an unhashable key: the base constructor reports it
        return super().construct_mapping(node, deep=deep)


def read_text(path: Path) -> str:
    """The file's text: UTF-8, with or without a byte-order mark, and no NUL bytes."""
    if not path.exists():
        raise ConfigError(f"{path}: config file not found.")
    if path.is_dir():
        raise ConfigError(f"{path}: is a directory; pass a YAML config file.")
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the file ({e.strerror or e}).") from None
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ConfigError(f"{path}: is UTF-16 text; save the file as UTF-8.")
    if b"\x00" in raw[:8192]:
        raise ConfigError(f"{path}: is not a text file (it contains NUL bytes); pass a YAML config file.")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise ConfigError(
            f"{path}: is not UTF-8 text (byte 0x{raw[e.start]:02x} at line {line} cannot be "
            "decoded); save the file as UTF-8."
        ) from None


def parse_yaml(path: Path, text: str) -> Any:
    try:
        return yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506 - a safe loader
    except DuplicateKeyError as e:
        raise ConfigError(
            f"{path}: key '{e.key}' is given twice (line {e.first_line} and line {e.second_line}); keep one."
        ) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError(f"{path}{where}: YAML syntax error: {problem}.") from None
    except RecursionError:
        raise ConfigError(f"{path}: the YAML is nested too deeply to read.") from None


# ---------------------------------------------------------------- problems -> one message


def format_validation(path: Path, text: str, err: ValidationError, root: type[BaseModel]) -> str:
    """pydantic's errors as one message: line, dotted field, what is allowed, what was received."""
    problems: list[tuple[tuple, str]] = []
    for e in err.errors():
        loc = tuple(e["loc"])
        if e["type"] == "extra_forbidden":
            parent = model_at(root, loc[:-1])
            keys = list(parent.model_fields) if parent else []
            msg = (
                f"unknown key '{loc[-1]}'{did_you_mean(str(loc[-1]), keys)}; "
                f"allowed keys: {', '.join(keys) or 'see docs/config.md'}"
            )
        elif e["type"] == "missing":
            msg = "required field is missing"
        else:
            msg = e["msg"].removeprefix("Value error, ")
            value = e.get("input")
            if e["type"] != "value_error" or not (isinstance(value, (dict, list)) or repr(value) in msg):
                msg += f" (got {shown(value)}){_text_number_hint(value)}"
        if (loc, msg) not in problems:
            problems.append((loc, msg))
    return format_problems(path, text, problems)


def format_problems(path: Path, text: str, problems: list[tuple[tuple, str]]) -> str:
    lines = [f"{path}: invalid config"]
    try:
        root = yaml.compose(text, Loader=_BaseLoader)
    except yaml.YAMLError:
        root = None
    for loc, msg in problems[:MAX_PROBLEMS]:
        field = dotted(loc) or "(top level)"
        line = line_of(root, loc)
        lines.append(f"  {f'line {line}, ' if line else ''}{field}: {msg}")
    if len(problems) > MAX_PROBLEMS:
        lines.append(f"  ... and {len(problems) - MAX_PROBLEMS} more")
    return "\n".join(lines)


def shown(value: Any) -> str:
    """A received value as the user wrote it in YAML, short enough for one line."""
    if isinstance(value, bool):
        return f"{str(value).lower()}, a boolean"
    if value is None:
        return "null"
    if isinstance(value, (dict, list)):
        return "a mapping" if isinstance(value, dict) else "a list"
    kind = {str: "text", int: "an integer", float: "a number"}.get(type(value), type(value).__name__)
    text = repr(value)
    return f"{text[:57] + '...' if len(text) > 60 else text}, {kind}"


def _text_number_hint(value: Any) -> str:
    """Why a number came out as text: quotes, or YAML 1.1's exponent rule (1e3 and 1.0e3 are text)."""
    if not isinstance(value, str) or not re.fullmatch(r"\s*[-+]?(\d[\d_]*\.?\d*|\.\d+)([eE][-+]?\d+)?\s*", value):
        return ""
    if "e" in value.lower():
        return "; YAML reads an exponent as a number only with a point and a sign (1.0e+3), or write 1000"
    return "; remove the quotes to give a number"


def dotted(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def line_of(node, loc: tuple) -> int | None:
    """The 1-based line of the YAML node at loc (or of its nearest existing parent)."""
    if node is None:
        return None
    line = None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = [(k, v) for k, v in node.value if k.value == part]
            if not match:
                return line
            line, node = match[0][0].start_mark.line + 1, match[0][1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line if line is not None else node.start_mark.line + 1


def model_at(model: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
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
            if not members:
                return tp
            tp = members[0]
        else:
            return tp
