"""build_model(...): the reference CNN (and its deeper variants) with a chosen activation.

    Conv2D(32, 3x3) -> A -> MaxPool(2x2) -> Flatten -> Dense(128) -> A -> Dense(n, softmax)

The activation is its own layer after each conv/dense layer (and after batch norm when
enabled) so diagnostics can read pre- and post-activation values. Layer names are fixed
(conv1, act_conv1, pool1, ..., dense1, act_dense1, output) so result columns such as
grad_norm/conv1 mean the same thing in every run; a packed model prefixes each tower's
names with "t<index>_".

Remedies (all off by default, so the default build is the reference model, weights included):
norm (batch or layer normalization before each activation: bn_<layer>, ln_<layer>), residual
(each conv block becomes pool(A(norm(conv(x)) + shortcut(x))): the skip is added before the
activation and the pooling, as in ResNet; the shortcut is x itself where the shapes match, else x
centre-cropped by the valid conv's kernel_size - 1 (crop<i>) and/or a 1x1 conv to the block's
filters (proj<i>)), and kernel_initializer (conv, hidden dense and projection kernels; the softmax
output keeps Keras' glorot_uniform).
"""

from __future__ import annotations

from actbench import activations
from actbench.training import backends
from actbench.training.tower import Tower

NORM_PREFIX = {"batch": "bn", "layer": "ln"}


def resolve_initializer(name: str, act_name: str) -> str:
    """The Keras initializer name that kernel_initializer `name` means before activation `act_name`."""
    if name != "auto":
        return name
    return activations.AUTO_INITIALIZERS.get(act_name, activations.AUTO_FALLBACK)


def build_tower(inputs, arch, num_classes: int, act_name: str, act_params: dict, prefix: str = "") -> Tower:
    import keras
    from keras import layers

    fn, layer_factory = activations.keras_activation(act_name, act_params)
    # On JAX a pooling whose gradient compiles deterministically on a GPU (backends/jax_pooling.py).
    max_pooling = backends.for_name(keras.backend.backend()).max_pooling_2d
    init = resolve_initializer(arch.kernel_initializer, act_name)
    tower = Tower(output=None)

    def activate(x, base):
        name = f"{prefix}act_{base}"
        pre = x
        x = layer_factory(name, len(x.shape))(x) if layer_factory is not None else layers.Activation(fn, name=name)(x)
        tower.activated.append((base, pre, x))
        return x

    x = inputs
    for i, filters in enumerate(arch.conv_filters, start=1):
        base = f"conv{i}"
        block_input = x
        x = layers.Conv2D(
            filters,
            arch.kernel_size,
            padding=arch.padding,
            name=prefix + base,
            use_bias=arch.norm == "none",
            kernel_initializer=init,
        )(x)
        tower.kernel_layers.append(base)
        x = _normalize(x, arch.norm, prefix + base)
        if arch.residual:
            x = layers.Add(name=f"{prefix}add{i}")([x, _shortcut(block_input, x, f"{prefix}{{}}{i}", init)])
        x = activate(x, base)
        x = max_pooling(arch.pool_size, arch.padding, f"{prefix}pool{i}")(x)
    x = layers.Flatten(name=f"{prefix}flatten")(x)
    if arch.dropout and not arch.dense_units:
        # No hidden dense layer to follow: dropout goes after Flatten, as in Keras' MNIST convnet.
        x = layers.Dropout(arch.dropout, name=f"{prefix}dropout0")(x)
    for i, units in enumerate(arch.dense_units, start=1):
        base = f"dense{i}"
        x = layers.Dense(units, name=prefix + base, use_bias=arch.norm == "none", kernel_initializer=init)(x)
        tower.kernel_layers.append(base)
        x = activate(_normalize(x, arch.norm, prefix + base), base)
        if arch.dropout:
            x = layers.Dropout(arch.dropout, name=f"{prefix}dropout{i}")(x)
    tower.output = layers.Dense(num_classes, activation="softmax", name=f"{prefix}output")(x)
    tower.kernel_layers.append("output")
    return tower


def _normalize(x, norm: str, layer_name: str):
    """Batch or layer normalization (over the channels / units, Keras' default axis) of x, or x itself."""
    from keras import layers

    if norm == "none":
        return x
    cls = layers.BatchNormalization if norm == "batch" else layers.LayerNormalization
    return cls(name=f"{NORM_PREFIX[norm]}_{layer_name}")(x)


def _shortcut(x, target, name: str, init: str):
    """x shaped like target for the residual add: centre-cropped where a valid conv shrank the
    image, projected by a 1x1 conv where the channels differ; x itself where shapes already match.
    `name` has a {} for the layer kind (crop, proj)."""
    from keras import layers

    trim_h, trim_w = x.shape[1] - target.shape[1], x.shape[2] - target.shape[2]
    if trim_h or trim_w:
        crop = ((trim_h // 2, trim_h - trim_h // 2), (trim_w // 2, trim_w - trim_w // 2))
        x = layers.Cropping2D(crop, name=name.format("crop"))(x)
    if x.shape[-1] != target.shape[-1]:
        x = layers.Conv2D(target.shape[-1], 1, use_bias=False, kernel_initializer=init, name=name.format("proj"))(x)
    return x


def check_shape(arch, input_shape: tuple) -> None:
    """Raise ValueError when the conv/pool stack shrinks the image to nothing (a builder's or a
    saved model's network is checked when it is built)."""
    if arch.builder is not None or arch.keras_model is not None:
        return
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
    """The network of `arch` for one activation (call keras.utils.set_random_seed first): the
    reference family, or the user's own from its builder (user_model.py) or saved file (saved_model.py)."""
    import keras

    if arch.builder is not None or arch.keras_model is not None:
        from actbench.training import saved_model
        from actbench.training.user_model import build_user_model

        source = saved_model.source(arch) if arch.keras_model is not None else None
        return build_user_model(arch, input_shape, num_classes, act_name, act_params, source)
    inputs = keras.Input(shape=input_shape, name="image")
    tower = build_tower(inputs, arch, num_classes, act_name, act_params)
    model = keras.Model(inputs, tower.output, name="actbench")
    model.actbench_tower = tower
    return model
