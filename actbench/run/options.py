"""Run options: what the command line asks, and their one resolution against the environment
and the config: flag > environment > config > default, for every option, in resolve().

The resolved values, and where each came from, go into metadata.json ("options").
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from actbench.config import Experiment
from actbench.datasets import ENV_DATA_DIR, ENV_MIRROR, ENV_OFFLINE


@dataclass
class RunOptions:
    """What the caller (the command line) asks for; None: not given, resolve() decides."""

    overwrite: bool = False
    resume: bool = True
    shard: tuple[int, int] | None = None
    data_dir: str | None = None
    verify_data: bool | None = None
    engine: str | None = None
    output_dir: str | None = None
    offline: bool | None = None
    data_mirror: str | None = None
    download_progress: Callable[[str, int, int | None, bool], None] | None = None  # datasets.fetch's
    command_line: list[str] = field(default_factory=lambda: list(sys.argv))


@dataclass(frozen=True)
class Resolved:
    """Every run option's value, and where it came from: flag, env, config or default."""

    output_dir: str
    engine: str
    data_dir: str | None
    verify_data: bool
    offline: bool
    data_mirror: str | None
    source: dict[str, str]

    def as_metadata(self) -> dict[str, Any]:
        return asdict(self)


def _env_flag(value: str) -> bool:
    return value.strip().lower() not in ("", "0", "false", "no", "off")


def resolve(exp: Experiment, opts: RunOptions, environ: Mapping[str, str] = os.environ) -> Resolved:
    """flag > environment > config > default, for each option (None and '' count as not given)."""
    offline_env = environ.get(ENV_OFFLINE)
    candidates: dict[str, tuple[Any, Any, Any, Any]] = {  # option: (flag, environment, config, default)
        "output_dir": (opts.output_dir, None, exp.output.dir, f"results/{exp.name}"),
        "engine": (opts.engine, None, exp.training.engine, "packed"),
        "data_dir": (opts.data_dir, environ.get(ENV_DATA_DIR), exp.data_dir, None),
        "verify_data": (opts.verify_data, None, exp.data_verify, True),
        "offline": (opts.offline, None if offline_env is None else _env_flag(offline_env), None, False),
        "data_mirror": (opts.data_mirror, environ.get(ENV_MIRROR), None, None),
    }
    values: dict[str, Any] = {}
    source: dict[str, str] = {}
    for option, found in candidates.items():
        where, value = next(
            ((w, v) for w, v in zip(("flag", "env", "config"), found[:3]) if v is not None and v != ""),
            ("default", found[3]),
        )
        values[option], source[option] = value, where
    return Resolved(**values, source=source)
