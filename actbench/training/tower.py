"""Tower: what diagnostics need to find inside a network, whoever built it (model.py's
reference family, or user_model.py's builders)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Tower:
    """One network's output plus what diagnostics need to find inside it."""

    output: object
    kernel_layers: list[str] = field(default_factory=list)  # layers with a kernel, input to output
    activated: list[tuple[str, object, object]] = field(default_factory=list)  # (layer, pre, post)
