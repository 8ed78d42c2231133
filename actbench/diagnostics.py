"""What the activation does to training, measured on a fixed probe batch after each epoch.

- grad_norm/<layer>: L2 norm of the loss gradient for each layer's kernel;
  grad_ratio = first layer's norm / last (output) layer's norm (small -> vanishing).
- dead_fraction/<layer>: fraction of units (channels for conv layers) that are dead on
  every probe example and position. ReLU-like functions (relu, relu6): output exactly 0.
  Everything else (leaky/parametric, smooth, bounded, custom): |f'(z)| below
  dead_threshold, with f' taken by the backend's autodiff through the activation layer.
- saturation/<layer>: for bounded activations, the fraction of activation values within
  saturation_margin of a bound.

All of it runs in inference mode, in a separate forward/backward pass outside the training step:
no optimizer step, no batch-norm statistics update, no dropout draw, so the training
trajectory is untouched (tests check this).
"""

from __future__ import annotations

import numpy as np

from . import activations


def probe_indices(n_train: int, size: int, seed: int) -> np.ndarray:
    """The probe examples: drawn from the training set with the run's seed, sorted."""
    rng = np.random.default_rng([seed, 0xD1A6])
    return np.sort(rng.choice(n_train, size=min(size, n_train), replace=False))


def measure(model, spec, x_probe, y_probe, cfg) -> dict[str, float]:
    """All enabled diagnostics for one trained single-tower model, as epochs.csv columns.

    One forward pass over the probe batch yields the prediction (for the loss whose
    kernel gradients are taken) and every activated layer's pre- and post-activation
    values (for dead units and saturation)."""
    import keras

    tower = model.actbench_tower
    if not hasattr(model, "actbench_probe"):
        inside = [t for _, pre, post in tower.activated for t in (pre, post)]
        model.actbench_probe = keras.Model(model.input, [model.output, *inside])
    kernels = [model.get_layer(name).kernel for name in tower.kernel_layers]
    values, grads = _forward(model.actbench_probe, kernels if cfg.gradients else [], x_probe, y_probe)
    row: dict[str, float] = {}
    if cfg.gradients:
        norms = [float(np.linalg.norm(keras.ops.convert_to_numpy(g))) for g in grads]
        for name, norm in zip(tower.kernel_layers, norms):
            row[f"grad_norm/{name}"] = norm
        row["grad_ratio"] = norms[0] / norms[-1] if norms[-1] > 0 else float("nan")
    entry = None if activations.is_custom(spec.name) else activations.get(spec.name)
    for i, (name, _, _) in enumerate(tower.activated):
        pre, post = values[1 + 2 * i], values[2 + 2 * i]
        post_np = keras.ops.convert_to_numpy(post)
        if cfg.dead_units:
            if entry is not None and entry.dead_rule == "zero":
                alive = post_np != 0
            else:
                layer = model.get_layer(f"act_{name}")
                alive = np.abs(keras.ops.convert_to_numpy(_elementwise_grad(layer, pre))) >= cfg.dead_threshold
            per_unit_alive = alive.reshape(-1, alive.shape[-1]).any(axis=0)
            row[f"dead_fraction/{name}"] = float(1.0 - per_unit_alive.mean())
        if cfg.saturation:
            if entry is not None and entry.bounds is not None:
                lo, hi = entry.bounds
                m = cfg.saturation_margin
                row[f"saturation/{name}"] = float(((post_np <= lo + m) | (post_np >= hi - m)).mean())
            else:
                row[f"saturation/{name}"] = float("nan")
    return row


def _loss(y, pred):
    import keras
    return keras.ops.mean(keras.losses.sparse_categorical_crossentropy(y, pred))


def _forward(probe, kernels, x, y):
    """probe's outputs on x (inference mode) and d loss(y, outputs[0]) / d kernel for each
    kernel, with the backend's own autodiff. No kernels: a plain forward pass."""
    import keras

    backend = keras.backend.backend()
    if not kernels:
        return probe(x, training=False), []
    if backend == "tensorflow":
        import tensorflow as tf
        with tf.GradientTape() as tape:
            outputs = probe(x, training=False)
            loss = _loss(y, outputs[0])
        return outputs, tape.gradient(loss, [k.value for k in kernels])
    if backend == "jax":
        import jax
        trainable = [v.value for v in probe.trainable_variables]
        frozen = [v.value for v in probe.non_trainable_variables]

        def loss_of(tv):
            outputs, _ = probe.stateless_call(tv, frozen, x, training=False)
            return _loss(y, outputs[0]), outputs

        (_, outputs), grads = jax.value_and_grad(loss_of, has_aux=True)(trainable)
        index = {id(v): i for i, v in enumerate(probe.trainable_variables)}
        return outputs, [grads[index[id(k)]] for k in kernels]
    if backend == "torch":
        import torch
        outputs = probe(x, training=False)
        loss = _loss(y, outputs[0])
        return outputs, torch.autograd.grad(loss, [k.value for k in kernels])
    raise RuntimeError(f"gradient diagnostics are not implemented for backend {backend}")


def _elementwise_grad(layer, z):
    """f'(z) for an activation layer, elementwise, by autodiff of sum(f(z))."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf
        z = tf.convert_to_tensor(z)
        with tf.GradientTape() as tape:
            tape.watch(z)
            out = tf.reduce_sum(layer(z))
        return tape.gradient(out, z)
    if backend == "jax":
        import jax
        import jax.numpy as jnp
        return jax.grad(lambda t: jnp.sum(layer(t)))(z)
    if backend == "torch":
        import torch
        z = z.detach().requires_grad_(True)
        return torch.autograd.grad(layer(z).sum(), z)[0]
    raise RuntimeError(f"dead-unit diagnostics are not implemented for backend {backend}")
