"""Max pooling on JAX whose gradient a GPU can compile deterministically.

Keras' MaxPooling2D on JAX is lax.reduce_window, and JAX differentiates that through XLA's
select-and-scatter. XLA's GPU backend has no deterministic select-and-scatter and refuses
to compile it under --xla_gpu_deterministic_ops (what `deterministic: true` sets), so
every model that pools would stop there on a GPU runner.

FirstMaxPooling2D keeps Keras' forward pass (the same reduce_window, so the same bits) and
gives it a custom gradient built from reshapes, an argmax and a select: each window's
output gradient goes to the window's first maximum in row-major order, which is exactly
where select-and-scatter (with its `ge` selection) puts it, ties included. No scatter, so
the program has nothing nondeterministic to refuse. Windows must not overlap (strides ==
pool_size, Keras' default and the only pooling actbench builds); any other pooling falls
back to Keras' own layer (`supported`). A user's model (builder or saved) gets its Keras
MaxPooling2D layers swapped in place (`swap_in`).
"""

from __future__ import annotations

import functools

import keras


def supported(layer) -> bool:
    """Whether a Keras max-pooling layer can be swapped for FirstMaxPooling2D."""
    return (
        isinstance(layer, keras.layers.MaxPooling2D)
        and tuple(layer.strides) == tuple(layer.pool_size)
        and layer.data_format == "channels_last"
    )


def swap_in(model) -> list[str]:
    """Make each Keras MaxPooling2D of `model` (nested models included) that `supported` allows a
    FirstMaxPooling2D, in place: the subclass adds no state, only its call, so the layer keeps
    its place in the user's graph, its name and its config; the names of the layers swapped."""
    swapped = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            swapped += swap_in(layer)
        elif type(layer) is keras.layers.MaxPooling2D and supported(layer):
            object.__setattr__(layer, "__class__", FirstMaxPooling2D)
            swapped.append(layer.name)
    return swapped


@keras.saving.register_keras_serializable(package="actbench")
class FirstMaxPooling2D(keras.layers.MaxPooling2D):
    """keras.layers.MaxPooling2D (channels_last, strides == pool_size) with a gradient
    free of select-and-scatter; numbers identical to Keras', forward and backward."""

    def call(self, inputs):
        return first_max_pool(inputs, tuple(self.pool_size), self.padding)


def _pool(x, pool_size, padding):
    """Keras' own max pooling (lax.reduce_window on JAX)."""
    return keras.ops.max_pool(x, pool_size, strides=pool_size, padding=padding)


@functools.cache
def _custom_gradient_pool():
    import jax

    @functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2))
    def pool(x, pool_size, padding):
        return _pool(x, pool_size, padding)

    def forward(x, pool_size, padding):
        return _pool(x, pool_size, padding), x

    def backward(pool_size, padding, x, g):
        return (_first_max_gradient(x, g, pool_size, padding),)

    pool.defvjp(forward, backward)
    return pool


def first_max_pool(x, pool_size: tuple, padding: str):
    """Max pooling of NHWC x over non-overlapping pool_size windows (padding valid or same)."""
    return _custom_gradient_pool()(x, pool_size, padding)


def _window_layout(size: int, window: int, padding: str) -> tuple[int, int, int]:
    """(windows, padding before, padding after) along one axis of `size` pixels, as
    reduce_window pads for SAME (TensorFlow's rule) and crops for VALID (a negative pad)."""
    if padding == "valid":
        count = (size - window) // window + 1
        return count, 0, count * window - size
    count = -(-size // window)
    total = count * window - size
    return count, total // 2, total - total // 2


def _first_max_gradient(x, g, pool_size, padding):
    """d pool(x) / dx applied to g: g of each window at its first maximum, zero elsewhere."""
    import jax.numpy as jnp
    from jax import lax

    batch, height, width, channels = x.shape
    (wh, ww) = pool_size
    rows, top, bottom = _window_layout(height, wh, padding)
    cols, left, right = _window_layout(width, ww, padding)
    # lax.pad takes negative padding as a crop: the pixels VALID pooling never reads.
    edges = ((0, 0, 0), (top, bottom, 0), (left, right, 0), (0, 0, 0))
    padded = lax.pad(x, jnp.array(-jnp.inf, x.dtype), edges)
    # (batch, rows, cols, window pixels in row-major order, channels)
    windows = padded.reshape(batch, rows, wh, cols, ww, channels).transpose(0, 1, 3, 2, 4, 5)
    windows = windows.reshape(batch, rows, cols, wh * ww, channels)
    first = jnp.argmax(windows, axis=3, keepdims=True)  # the first maximum, as select-and-scatter's `ge`
    chosen = lax.broadcasted_iota(first.dtype, windows.shape, 3) == first
    grad_windows = jnp.where(chosen, g[:, :, :, None, :], jnp.zeros((), g.dtype))
    grad = grad_windows.reshape(batch, rows, cols, wh, ww, channels).transpose(0, 1, 3, 2, 4, 5)
    grad = grad.reshape(batch, rows * wh, cols * ww, channels)
    undo = ((0, 0, 0), (-top, -bottom, 0), (-left, -right, 0), (0, 0, 0))
    return lax.pad(grad, jnp.zeros((), g.dtype), undo)
