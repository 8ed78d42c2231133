"""The user's own network: `model: {builder: "module:function"}`.

The function is found like a custom activation (a module file beside the config, or in the
working directory; never an installed module) and called, right after the run's seed is
set, as function(act, input_shape, num_classes). It returns a keras.Model that maps images
to class probabilities. `act()` returns a new Keras layer applying the run's activation
(PReLU included); the builder places one wherever the network should have one, and that
is where diagnostics look: each placed layer's input and output are the pre- and
post-activation values of the layer before it.

So that result columns mean the same in every run, layers Keras named itself (conv2d_7)
are renamed within the model as a fresh Keras session would name them (conv2d, conv2d_1),
and each placed activation is named act_<the layer it follows> (or act_<name> for
act(name)); diagnostics read grad_norm/<layer> for every layer with a kernel.

A saved model (saved_model.py) goes through the same steps as a Source whose make() re-creates
the file's graph, calling act() where it replaces an activation.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from actbench import activations
from actbench.activations import custom
from actbench.errors import ActivationSpecError, ConfigError, last_line
from actbench.training import backends
from actbench.training.tower import Tower

WHAT = "model builder"


class ActivationPlacer:
    """The `act` a builder receives: act(name=None) -> a new layer applying the run's activation."""

    def __init__(self, act_name: str, act_params: dict):
        self.fn, self.factory = activations.keras_activation(act_name, act_params)
        self.placed: list = []  # (layer, the name the user gave or None), in order

    def __call__(self, name: str | None = None):
        from keras import layers

        auto = f"actbench_act_{len(self.placed) + 1}"
        if self.factory is None:
            layer = layers.Activation(self.fn, name=auto)
        else:
            layer = _ranked_activation_class()(self.factory, auto)
        self.placed.append((layer, name))
        return layer


@functools.cache
def _ranked_activation_class():
    """The layer class, defined once (it needs Keras, which is imported only after the backend is chosen)."""
    import keras

    class RankedActivation(keras.layers.Layer):
        """A learnable activation (PReLU) built once its input's rank is known, as the
        registry's layer factory needs it (one slope per channel on feature maps)."""

        def __init__(self, factory, name: str):
            super().__init__(name=name)
            self.factory = factory

        def build(self, input_shape):
            self.inner = self.factory(f"{self.name}_layer", len(input_shape))
            self.inner.build(input_shape)

        def call(self, x):
            return self.inner(x)

    return RankedActivation


@dataclass
class Source:
    """Where a user's network comes from: what messages call it, how to make it, and what it must do."""

    what: str  # "model builder 'net:build'", "saved model 'net.keras'"
    make: Callable  # make(act, input_shape, num_classes) -> keras.Model
    hint: str
    made: str = "returned a model"  # how messages say what the model is
    rename: bool = True  # Keras' auto names renumbered within the model (a saved file's names are kept)


def builder_source(arch) -> Source:
    """The builder of `arch` (model: {builder: module:function}), imported."""
    try:
        fn = custom.import_custom(arch.builder, what=WHAT)
    except ActivationSpecError as e:
        raise ConfigError(f"model '{arch.label}': {e}") from None
    return Source(
        what=f"{WHAT} '{arch.builder}'",
        make=fn,
        hint="It is called as function(act, input_shape, num_classes) and must return a keras.Model from "
        "images to class probabilities, with act() placed where the network has an activation.",
    )


def build_user_model(arch, input_shape: tuple, num_classes: int, act_name: str, act_params: dict, source=None):
    """The user's network for one activation (the caller sets the seed first), checked and
    named for diagnostics; `source`: the builder's (default) or saved_model.source(arch).
    ConfigError, naming the source, for anything a user's network must not do."""
    import keras

    source = source or builder_source(arch)
    act = ActivationPlacer(act_name, act_params)
    try:
        model = source.make(act, tuple(input_shape), num_classes)
    except ConfigError:
        raise
    except Exception as e:  # whatever the user's code raises is a config problem
        raise refused(arch, source, f"raised {last_line(e)}") from None
    model = _functional(arch, source, model)
    # e.g. on JAX, max pooling whose gradient a GPU compiles deterministically (backends/jax_pooling.py)
    backends.for_name(keras.backend.backend()).swap_user_layers(model)
    _check(arch, source, model, act, input_shape, num_classes)
    if source.rename:
        _stable_names(model)
    tower = Tower(output=model.output)
    tower.kernel_layers = [layer.name for layer in model.layers if getattr(layer, "kernel", None) is not None]
    for layer, given in act.placed:
        base = _unique(given or _producer(layer).name, [b for b, _, _ in tower.activated])
        layer.name = f"act_{base}"
        tower.activated.append((base, layer.input, layer.output))
    model.actbench_tower = tower
    return model


def refused(arch, source: Source, what: str) -> ConfigError:
    return ConfigError(f"model '{arch.label}': {source.what} {what}. {source.hint}")


def _functional(arch, source: Source, model):
    """The model as a functional graph over the same layers (a Sequential one included), which
    diagnostics and the packed engine read through model.input / model.output."""
    import keras

    if not isinstance(model, keras.Model):
        raise refused(arch, source, f"returned {type(model).__name__}, not a keras.Model")
    try:
        inputs, outputs = model.inputs, model.outputs
        if len(outputs) != 1:
            raise refused(arch, source, f"{source.made} with {len(outputs)} outputs, not one")
        return keras.Model(inputs[0] if len(inputs) == 1 else inputs, outputs[0], name=model.name)
    except (AttributeError, ValueError, TypeError) as e:  # a subclassed model has no graph to read
        raise refused(
            arch,
            source,
            f"returned a model without a graph of layers ({last_line(e)}); use the "
            "functional API or keras.Sequential with a keras.Input",
        ) from None


def _check(arch, source: Source, model, act: ActivationPlacer, input_shape: tuple, num_classes: int) -> None:
    import keras

    if tuple(model.output.shape) != (None, num_classes):
        shape = tuple(model.output.shape)
        raise refused(arch, source, f"{source.made} whose output is {shape}, not (None, {num_classes})")
    used = [layer for layer, _ in act.placed if layer in model.layers]
    if not used:
        raise refused(arch, source, "never placed act() in the model it returned, so the activation would not matter")
    if len(used) < len(act.placed):
        raise refused(arch, source, f"made {len(act.placed)} act() layers but the model uses {len(used)}")
    probe = np.linspace(0, 1, 2 * int(np.prod(input_shape)), dtype="float32").reshape(2, *input_shape)
    out = keras.ops.convert_to_numpy(model(probe, training=False))
    if not (np.all(out >= -1e-6) and np.allclose(out.sum(axis=1), 1.0, atol=1e-3)):
        raise refused(arch, source, f"{source.made} whose outputs are not probabilities (end it with a softmax)")


def _producer(layer):
    """The layer whose output an activation layer takes."""
    return layer.input._keras_history.operation


def _unique(base: str, taken: list[str]) -> str:
    if base not in taken:
        return base
    k = 1
    while f"{base}_{k}" in taken:
        k += 1
    return f"{base}_{k}"


def _stable_names(model) -> None:
    """Rename the layers Keras named itself (its process-wide counters make conv2d_7 of the
    eighth model built) as a fresh session names them, counting within this model only."""
    taken = {layer.name for layer in model.layers}
    counts: dict[str, int] = {}
    for layer in model.layers:
        stem = keras_stem(type(layer).__name__)
        if not re.fullmatch(rf"{re.escape(stem)}(_\d+)?", layer.name):
            continue  # named by the user (or by actbench's act()): kept
        n = counts.get(stem, 0)
        counts[stem] = n + 1
        wanted = stem if n == 0 else f"{stem}_{n}"
        if wanted != layer.name and wanted not in taken:
            taken.discard(layer.name)
            layer.name = wanted
            taken.add(wanted)


def keras_stem(name: str) -> str:
    """Keras' own auto-name stem of a class name (Conv2D -> conv2d, MaxPooling2D -> max_pooling2d)."""
    import keras

    return keras.src.utils.naming.to_snake_case(name)
