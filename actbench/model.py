"""build_model(...): the reference CNN (and its deeper variants) with a chosen activation.

    Conv2D(32, 3x3) -> A -> MaxPool(2x2) -> Flatten -> Dense(128) -> A -> Dense(n, softmax)

The activation is its own layer after each conv/dense layer (and after batch norm when
enabled) so diagnostics can read pre- and post-activation values. Layer names are fixed
(conv1, act_conv1, pool1, ..., dense1, act_dense1, output) so result columns such as
grad_norm/conv1 mean the same thing in every run; a packed model prefixes each tower's
names with "t<index>_".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import activations


@dataclass
class Tower:
    """One network's output plus what diagnostics need to find inside it."""

    output: object
    kernel_layers: list[str] = field(default_factory=list)  # layers with a kernel, input to output
    activated: list[tuple[str, object, object]] = field(default_factory=list)  # (layer, pre, post)


def build_tower(inputs, arch, num_classes: int, act_name: str, act_params: dict, prefix: str = "") -> Tower:
    from keras import layers

    fn, layer_factory = activations.keras_activation(act_name, act_params)
    tower = Tower(output=None)

    def activate(x, base):
        name = f"{prefix}act_{base}"
        if layer_factory is not None:
            return layer_factory(name, len(x.shape))(x)
        return layers.Activation(fn, name=name)(x)

    x = inputs
    for i, filters in enumerate(arch.conv_filters, start=1):
        base = f"conv{i}"
        x = layers.Conv2D(
            filters, arch.kernel_size, padding=arch.padding, name=prefix + base, use_bias=not arch.batch_norm
        )(x)
        tower.kernel_layers.append(base)
        if arch.batch_norm:
            x = layers.BatchNormalization(name=f"{prefix}bn_{base}")(x)
        pre = x
        x = activate(x, base)
        tower.activated.append((base, pre, x))
        x = layers.MaxPooling2D(arch.pool_size, padding=arch.padding, name=f"{prefix}pool{i}")(x)
    x = layers.Flatten(name=f"{prefix}flatten")(x)
    for i, units in enumerate(arch.dense_units, start=1):
        base = f"dense{i}"
        x = layers.Dense(units, name=prefix + base, use_bias=not arch.batch_norm)(x)
        tower.kernel_layers.append(base)
        if arch.batch_norm:
            x = layers.BatchNormalization(name=f"{prefix}bn_{base}")(x)
        pre = x
        x = activate(x, base)
        tower.activated.append((base, pre, x))
        if arch.dropout:
            x = layers.Dropout(arch.dropout, name=f"{prefix}dropout{i}")(x)
    tower.output = layers.Dense(num_classes, activation="softmax", name=f"{prefix}output")(x)
    tower.kernel_layers.append("output")
    return tower


def check_shape(arch, input_shape: tuple) -> None:
    """Raise ValueError when the conv/pool stack shrinks the image to nothing."""
    h, w = input_shape[:2]
    for i, _ in enumerate(arch.conv_filters, start=1):
        if arch.padding == "valid":
            h, w = h - arch.kernel_size + 1, w - arch.kernel_size + 1
            if min(h, w) < 1:
                raise ValueError(
                    f"conv block {i} gets a {h + arch.kernel_size - 1}-pixel image, smaller than "
                    f"the {arch.kernel_size}x{arch.kernel_size} kernel; use padding: same or fewer blocks"
                )
            h, w = h // arch.pool_size, w // arch.pool_size
        else:
            h, w = -(-h // arch.pool_size), -(-w // arch.pool_size)
        if min(h, w) < 1:
            raise ValueError(f"conv block {i} pools the image to nothing; use padding: same or fewer blocks")


def build_model(arch, input_shape: tuple, num_classes: int, act_name: str, act_params: dict):
    """The reference network for one activation (call keras.utils.set_random_seed first)."""
    import keras

    inputs = keras.Input(shape=input_shape, name="image")
    tower = build_tower(inputs, arch, num_classes, act_name, act_params)
    model = keras.Model(inputs, tower.output, name="actbench")
    model.actbench_tower = tower
    return model
