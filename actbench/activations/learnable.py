"""Learnable parameters for the parametric activations: `trainable: true` in a config entry.

The entry's `learn` function (x, **params) -> y takes its parameters as tensors; the layer here
holds one weight per parameter, initialised to the configured value, shaped () for
`shared: layer` (one value per layer) or (channels,) for `shared: channel` (one per channel,
broadcast over the spatial axes, as PReLU's slopes are). The optimizer trains them with the
kernels; a packed tower's layers are its own, so each tower learns its own values.

Keras is imported lazily, inside the factory.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

SHARED = ("layer", "channel")
# Build options that ride with an activation's parameters from the config to the Keras build
# (registry.keras_activation takes them out): `trainable` and `shared`.
BUILD_OPTIONS = ("trainable", "shared")


def layer_factory(name: str, learn: Callable, params: dict, shared: str) -> Callable:
    """(layer_name, rank) -> a Keras layer computing learn(x, **params) with params learned."""
    if shared not in SHARED:
        raise ValueError(f"shared must be one of {', '.join(SHARED)}, got {shared!r}")

    def factory(layer_name: str, rank: int):
        return _layer_class()(learn, dict(params), shared, activation=name, name=layer_name)

    return factory


@cache
def _layer_class():
    import keras

    class LearnedActivation(keras.layers.Layer):
        """y = learn(x, **params), each parameter a trainable weight (a scalar or one per channel)."""

        def __init__(self, learn, initial: dict, shared: str, activation: str, **kwargs):
            super().__init__(**kwargs)
            self.learn, self.initial, self.shared, self.activation = learn, initial, shared, activation
            self.actbench_learned: dict = {}  # parameter name -> its weight: what epochs.csv records

        def build(self, input_shape):
            shape = () if self.shared == "layer" else (int(input_shape[-1]),)
            for key, value in self.initial.items():
                self.actbench_learned[key] = self.add_weight(
                    name=key, shape=shape, initializer=keras.initializers.Constant(float(value)), trainable=True
                )

        def call(self, x):
            return self.learn(x, **{k: keras.ops.cast(w, x.dtype) for k, w in self.actbench_learned.items()})

        def compute_output_shape(self, input_shape):
            return input_shape

    return LearnedActivation


def learned_values(layer) -> dict:
    """{parameter: NumPy array} of a layer's learned parameters; {} for a fixed activation."""
    import keras

    layer = getattr(layer, "inner", layer)  # a user builder's act() wraps the layer (training/user_model.py)
    weights = getattr(layer, "actbench_learned", None) or {}
    return {k: keras.ops.convert_to_numpy(w.value) for k, w in weights.items()}
