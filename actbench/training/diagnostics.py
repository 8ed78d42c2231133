"""What the activation does to training, measured on a fixed probe batch after each epoch.

- grad_norm/<layer>: L2 norm of the loss gradient for each layer's kernel;
  grad_ratio = first layer's norm / last (output) layer's norm (small -> vanishing).
- dead_fraction/<layer>: fraction of units (channels for conv layers) that are dead on
  every probe example and position. ReLU-like functions (relu, relu6): output exactly 0.
  Everything else (leaky/parametric, smooth, bounded, custom): |f'(z)| below
  dead_threshold, with f' taken by the backend's autodiff through the activation layer.
- saturation/<layer>: for bounded activations, the fraction of activation values within
  saturation_margin of a bound.
- pre_mean, pre_std, pre_p1, pre_p5, ..., pre_p50, ..., pre_p99/<layer> (preactivations: true): the distribution
  of what the activation receives on the probe batch, which explains saturation and dead units.
- param/<layer>/<parameter> (whenever an activation's parameters are learned): the learned
  value, its mean over channels with `shared: channel` (and param_std/<layer>/<parameter>).

All of it runs in inference mode, in a separate forward/backward pass outside the training step:
no optimizer step, no batch-norm statistics update, no dropout draw, so the training
trajectory is untouched (tests check this).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from actbench import activations
from actbench.activations.learnable import learned_values

# Enough percentiles for the report to draw the distribution as an equal-mass histogram
# (report/preactivations.py: 10 % of the probe values between p10 and p20, ...).
PRE_PERCENTILES = (1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 99)


@dataclass
class Probe:
    """The fixed probe batch of a run: inputs and labels."""

    x: np.ndarray
    y: np.ndarray


def probe_indices(n_train: int, size: int, seed: int) -> np.ndarray:
    """The probe examples: drawn from the training set with the run's seed, sorted."""
    rng = np.random.default_rng([seed, 0xD1A6])
    return np.sort(rng.choice(n_train, size=min(size, n_train), replace=False))


def probe_batch(x_train: np.ndarray, y_train: np.ndarray, size: int, seed: int) -> Probe:
    chosen = probe_indices(len(y_train), size, seed)
    return Probe(x_train[chosen], y_train[chosen])


def measure(model, spec, probe: Probe, cfg, adapter) -> dict[str, float]:
    """All enabled diagnostics for one trained single-tower model, as epochs.csv columns;
    `adapter` (actbench.backends) takes the gradients with the backend's own autodiff.

    One forward pass over the probe batch yields the prediction (for the loss whose
    kernel gradients are taken) and every activated layer's pre- and post-activation
    values (for dead units and saturation)."""
    import keras

    tower = model.actbench_tower
    if not hasattr(model, "actbench_probe"):
        inside = [t for _, pre, post in tower.activated for t in (pre, post)]
        model.actbench_probe = keras.Model(model.input, [model.output, *inside])
    row: dict[str, float] = {}
    if cfg.gradients:
        kernels = [model.get_layer(name).kernel for name in tower.kernel_layers]
        values, grads = adapter.kernel_gradients(
            model.actbench_probe, kernels, probe.x, lambda outputs: _loss(probe.y, outputs[0])
        )
        norms = [float(np.linalg.norm(keras.ops.convert_to_numpy(g))) for g in grads]
        for name, norm in zip(tower.kernel_layers, norms, strict=True):
            row[f"grad_norm/{name}"] = norm
        row["grad_ratio"] = norms[0] / norms[-1] if norms[-1] > 0 else float("nan")
    else:
        values = model.actbench_probe(probe.x, training=False)
    entry = None if activations.is_custom(spec.name) else activations.get(spec.name)
    for i, (name, _, _) in enumerate(tower.activated):
        pre, post = values[1 + 2 * i], keras.ops.convert_to_numpy(values[2 + 2 * i])
        if cfg.dead_units:
            # ReLU-like functions are dead where they output exactly 0; the rest where |f'(z)| is tiny.
            by_output = entry is not None and entry.dead_rule == "zero"
            slope = None if by_output else adapter.elementwise_grad(model.get_layer(f"act_{name}"), pre)
            row[f"dead_fraction/{name}"] = _dead_fraction(post, slope, cfg.dead_threshold)
        if cfg.saturation:
            row[f"saturation/{name}"] = _saturation(entry, post, cfg.saturation_margin)
        if cfg.preactivations:
            row.update(pre_statistics(name, keras.ops.convert_to_numpy(pre)))
    return row


def pre_statistics(layer: str, pre: np.ndarray) -> dict[str, float]:
    """Mean, std and percentiles of the values an activation layer receives."""
    values = np.asarray(pre, dtype=np.float64).ravel()
    row = {f"pre_mean/{layer}": float(values.mean()), f"pre_std/{layer}": float(values.std())}
    for q, v in zip(PRE_PERCENTILES, np.percentile(values, PRE_PERCENTILES), strict=True):
        row[f"pre_p{q}/{layer}"] = float(v)
    return row


def learned_parameters(model) -> dict[str, float]:
    """param/<layer>/<parameter> (and param_std/... over channels) of every learned activation
    parameter in a single-tower model; {} when none is learned."""
    row: dict[str, float] = {}
    for name, _, _ in model.actbench_tower.activated:
        for key, value in learned_values(model.get_layer(f"act_{name}")).items():
            row[f"param/{name}/{key}"] = float(np.mean(value))
            if np.ndim(value):
                row[f"param_std/{name}/{key}"] = float(np.std(value))
    return row


def _dead_fraction(post: np.ndarray, slope, threshold: float) -> float:
    """Fraction of units (last axis) dead on every probe example and position: output
    exactly 0 when slope is None, else |f'(z)| = |slope| below threshold."""
    import keras

    alive = post != 0 if slope is None else np.abs(keras.ops.convert_to_numpy(slope)) >= threshold
    per_unit_alive = alive.reshape(-1, alive.shape[-1]).any(axis=0)
    return float(1.0 - per_unit_alive.mean())


def _saturation(entry, post: np.ndarray, margin: float) -> float:
    """Fraction of values within margin of a bound; NaN for unbounded (or custom) functions."""
    if entry is None or entry.bounds is None:
        return float("nan")
    lo, hi = entry.bounds
    return float(((post <= lo + margin) | (post >= hi - margin)).mean())


def _loss(y, pred):
    import keras

    return keras.ops.mean(keras.losses.sparse_categorical_crossentropy(y, pred))
