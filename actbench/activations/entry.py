"""One activation entry, self-contained: everything actbench knows about an activation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

AUTO_FALLBACK = "glorot_uniform"  # Keras' default, for every activation that names no better one


@dataclass(frozen=True, kw_only=True)
class Activation:
    """An activation: its formula, NumPy closed forms, Keras build, parameters, diagnostics rules
    and what kernel_initializer "auto" means before it. Built-in ones are in builtin.py."""

    name: str
    formula: str  # as text, for `actbench activations` and docs/activations.md
    f: Callable | None  # NumPy closed form f(x, **params): formula tests, shape plots, no Keras
    df: Callable | None  # NumPy closed form f'(x, **params)
    keras: str | Callable[..., Callable] | None = None  # keras.activations.<name>, or (**params) -> callable
    layer: Callable | None = None  # (layer_name, rank) -> a Keras layer: a learnable activation
    # (x, **params) -> f(x) in keras.ops with the parameters as tensors: what `trainable: true`
    # learns (learnable.py); None where the parameters cannot be learned
    learn: Callable | None = None
    trainable_default: bool = False  # an adaptive family: its parameters are learned unless `trainable: false`
    params: dict = field(default_factory=dict)  # parameter -> default
    dead_rule: str = "derivative"  # "zero": output exactly 0; "derivative": |f'| < threshold
    bounds: tuple | None = None  # (low, high) for bounded functions: saturation is measured
    initializer: str = AUTO_FALLBACK  # the kernel initializer kernel_initializer "auto" means
    aliases: tuple[str, ...] = ()

    @property
    def learnable(self) -> bool:
        return self.layer is not None

    def build(self, **params):
        """A Keras callable x -> f(x) with these parameters (not for learnable entries)."""
        p = {**self.params, **params}
        if callable(self.keras):
            return self.keras(**p)
        import keras

        fn = getattr(keras.activations, str(self.keras))
        return (lambda x: fn(x, **p)) if p else fn
