"""Training: one (dataset, model, seed) group of activations -> one RunResult per activation.

Both engines share this code:
- sequential: each activation trained alone (a group of one);
- packed: all activations of the group trained together in ONE Keras model whose
  outputs are the single-activation models (towers) applied to a shared input, each
  tower with its own loss and accuracy. The total loss is the sum of the tower losses,
  so each tower's gradient is exactly its own loss's gradient; towers share only the
  batches, which is what makes them comparable.

Each tower is built exactly as in a sequential run (seed set, then build), so initial
weights and dropout seeds are the same; the data order per epoch is a permutation drawn
from (seed, epoch), the same for every activation and engine. A tower whose loss turns
NaN/inf is recorded as diverged at that epoch; the others keep training (nothing stops
on the summed loss). Keras is imported lazily: call backend.configure() first.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from . import diagnostics, loop
from .model import build_model

TIMING_STEPS = 32      # train steps timed per activation in the packed engine's timing pass
TIMING_TEST_EXAMPLES = 2048  # test examples whose inference the timing pass times
STEPS_PER_EXECUTION = 32  # steps per call where model.fit trains (backends other than TensorFlow)
# A run diverged when its epoch loss is NaN/inf or above this: cross-entropy at chance
# is ln(n_classes) (2.3 for 10 classes), so 1e6 is blown up, not slow learning.
DIVERGENCE_LOSS = 1e6


@dataclass
class RunResult:
    run: dict
    epochs: list[dict] = field(default_factory=list)


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The data order of one epoch: the same for every activation and both engines."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def make_optimizer(spec):
    import keras
    if spec.name == "adam":
        return keras.optimizers.Adam(learning_rate=spec.learning_rate)
    if spec.name == "sgd":
        return keras.optimizers.SGD(learning_rate=spec.learning_rate, momentum=spec.momentum)
    return keras.optimizers.RMSprop(learning_rate=spec.learning_rate, momentum=spec.momentum)


def build_tower_model(data, arch, spec, seed: int):
    """The single-activation model of a run, with the run's initial weights."""
    import keras
    keras.utils.set_random_seed(seed)
    model = build_model(arch, data.input_shape, data.num_classes, spec.name, spec.params)
    return model


def compile_group(data, arch, specs, seed: int, training):
    """The compiled model that trains `specs` together (packed; the tower itself when
    there is one spec), and the towers (single-activation models) inside it."""
    import keras

    towers = [build_tower_model(data, arch, spec, seed) for spec in specs]
    for i, tower in enumerate(towers):
        tower.name = f"t{i}"
    if len(towers) == 1:
        model = towers[0]
    else:
        image = keras.Input(shape=data.input_shape, name="image")
        model = keras.Model(image, [t(image) for t in towers], name="packed")
    keras.utils.set_random_seed(seed)  # same RNG state at the start of training in both engines
    # The loss is also tracked as a metric ("ce"): Keras averages a multi-output model's
    # per-output loss over batches without weighting the last, smaller batch, while a
    # metric is a true per-example mean, the same in both engines.
    model.compile(optimizer=make_optimizer(training.optimizer),
                  loss=["sparse_categorical_crossentropy"] * len(towers),
                  metrics=[["accuracy", keras.metrics.SparseCategoricalCrossentropy(name="ce")]
                           for _ in towers],
                  steps_per_execution=STEPS_PER_EXECUTION)
    return model, towers


def train_group(data, arch, specs, seed: int, exp, timing_cache: dict, on_epoch=None) -> list[RunResult]:
    """Train the activations `specs` on `data` under `seed`; one RunResult per spec.

    on_epoch(epoch, epochs) is called after each epoch (for progress display).
    """
    training, diag = exp.training, exp.diagnostics
    model, towers = compile_group(data, arch, specs, seed, training)
    trainer = loop.for_model(model)
    n = len(specs)
    has_val = len(data.y_val) > 0
    val = (data.x_val, data.y_val) if has_val else None
    probe = diagnostics.probe_indices(len(data.y_train), diag.probe_size, seed)
    x_probe, y_probe = data.x_train[probe], data.y_train[probe]
    want_diag = diag.gradients or diag.dead_units or diag.saturation

    rows: list[list[dict]] = [[] for _ in specs]
    diverged_at: list[int | None] = [None] * n
    for epoch in range(1, training.epochs + 1):
        order = epoch_order(len(data.y_train), seed, epoch)
        x, y = data.x_train[order], data.y_train[order]
        start = time.perf_counter()
        history = trainer.train_epoch(x, y, training.batch_size, validation=val)
        seconds = time.perf_counter() - start
        for i, spec in enumerate(specs):
            if diverged_at[i] is not None:
                continue
            row = {
                "epoch": epoch,
                "loss": _metric(history, i, n, "ce"),
                "accuracy": _metric(history, i, n, "accuracy"),
                "val_loss": _metric(history, i, n, "ce", "val_") if has_val else math.nan,
                "val_accuracy": _metric(history, i, n, "accuracy", "val_") if has_val else math.nan,
                "seconds": seconds,
            }
            if not (math.isfinite(row["loss"]) and row["loss"] <= DIVERGENCE_LOSS):
                diverged_at[i] = epoch
            elif want_diag:
                row.update(diagnostics.measure(towers[i], spec, x_probe, y_probe, diag))
            rows[i].append(row)
        if on_epoch:
            on_epoch(epoch, training.epochs)
        if all(d is not None for d in diverged_at):
            break

    test, test_seconds = {}, math.nan
    if any(d is None for d in diverged_at):
        # Evaluated at the training batch size, so the test function traced for validation
        # is reused and the timed evaluation is pure inference (a warm-up traces it otherwise).
        bs = training.batch_size
        if not has_val:
            trainer.evaluate(data.x_test[:bs], data.y_test[:bs], bs)
        start = time.perf_counter()
        test = trainer.evaluate(data.x_test, data.y_test, bs)
        test_seconds = time.perf_counter() - start

    results = []
    for i, spec in enumerate(specs):
        if n == 1:
            timing = "fit"
            throughput = len(data.y_test) / test_seconds if diag.timing else math.nan
        elif diag.timing:
            timing = "timing-pass"
            per_epoch, throughput = _timing_pass(data, arch, spec, seed, exp, timing_cache)
            for row in rows[i]:
                row["seconds"] = per_epoch
        else:
            timing, throughput = "shared", math.nan
        results.append(_result(spec, rows[i], diverged_at[i], test, i, n, towers[i], exp, timing, throughput))
    return results


def _metric(history: dict, i: int, n: int, name: str, prefix: str = "") -> float:
    # A single-output model logs "ce"/"accuracy"; a packed one "t<i>_ce"/"t<i>_accuracy".
    key = f"{prefix}{name}" if n == 1 else f"{prefix}t{i}_{name}"
    return float(history[key])


def _throughput(model, x, batch_size: int) -> float:
    """Inference examples per second over x, after a warm-up batch that traces predict."""
    model.predict(x[:batch_size], batch_size=batch_size, verbose=0)
    start = time.perf_counter()
    model.predict(x, batch_size=batch_size, verbose=0)
    return len(x) / (time.perf_counter() - start)


def _timing_pass(data, arch, spec, seed, exp, cache: dict) -> tuple[float, float]:
    """Seconds per epoch and test throughput of one activation trained alone, estimated
    from TIMING_STEPS timed steps (after a one-step warm-up that traces) on a throwaway
    copy of the model, and from inference over up to TIMING_TEST_EXAMPLES test examples.
    Cached per (dataset, model, activation) since it does not depend on the seed."""
    key = (data.name, arch.label, spec.label)
    if key not in cache:
        model = build_tower_model(data, arch, spec, seed)
        # Training steps as the engine runs them, without metrics (per step they cost
        # next to nothing, but tracing them took ~0.4 s more per model here).
        model.compile(optimizer=make_optimizer(exp.training.optimizer),
                      loss="sparse_categorical_crossentropy", steps_per_execution=STEPS_PER_EXECUTION)
        trainer = loop.for_model(model)
        bs = exp.training.batch_size
        steps = min(TIMING_STEPS, max(1, len(data.y_train) // bs))
        x, y = data.x_train[: steps * bs], data.y_train[: steps * bs]
        trainer.train_epoch(x[:bs], y[:bs], bs)  # trace and warm up
        start = time.perf_counter()
        trainer.train_epoch(x, y, bs)
        per_step = (time.perf_counter() - start) / steps
        steps_per_epoch = math.ceil(len(data.y_train) / bs)
        val_steps = math.ceil(len(data.y_val) / bs)
        # Inference one batch per call, as predict runs by default (a multi-step predict
        # function takes several times longer to trace than the timed inference itself).
        model.compile(loss="sparse_categorical_crossentropy", steps_per_execution=1)
        throughput = _throughput(model, data.x_test[:TIMING_TEST_EXAMPLES], bs)
        # Validation is forward-only, about a third of a training step.
        cache[key] = (per_step * (steps_per_epoch + val_steps / 3), throughput)
    return cache[key]


def _result(spec, rows, diverged_epoch, test, i, n, model, exp, timing, throughput) -> RunResult:
    import keras

    diverged = diverged_epoch is not None
    finished = rows[:-1] if diverged else rows  # the diverged epoch's diagnostics are not measured
    val_acc = [r["val_accuracy"] for r in finished if math.isfinite(r["val_accuracy"])]
    best_epoch = (finished[int(np.argmax(val_acc))]["epoch"] if val_acc else math.nan)
    run = {
        "activation_name": spec.name,
        "params": int(model.count_params()),
        "epochs_run": len(rows),
        "test_loss": math.nan if diverged else float(test["ce" if n == 1 else f"t{i}_ce"]),
        "test_accuracy": math.nan if diverged else float(test["accuracy" if n == 1 else f"t{i}_accuracy"]),
        "best_val_accuracy": max(val_acc) if val_acc else math.nan,
        "best_epoch": best_epoch,
        "train_seconds": float(sum(r["seconds"] for r in rows)),
        "seconds_per_epoch": float(np.mean([r["seconds"] for r in rows])) if rows else math.nan,
        "timing": timing,
        "test_examples_per_second": math.nan if diverged else throughput,
        "diverged": diverged,
        "diverged_epoch": diverged_epoch if diverged else math.nan,
        "engine": exp.training.engine,
        "backend": keras.backend.backend(),
    }
    run.update(_diagnostic_summary(finished))
    return RunResult(run=run, epochs=rows)


def _diagnostic_summary(rows: list[dict]) -> dict:
    """Per-run figures from the per-epoch diagnostics: last-epoch dead fraction and
    saturation per layer, and the range of the gradient-norm ratio over epochs."""
    if not rows:
        return {}
    out = {}
    last = rows[-1]
    for key, value in last.items():
        if key.startswith(("dead_fraction/", "saturation/")):
            out[key] = value
    ratios = [r["grad_ratio"] for r in rows if "grad_ratio" in r and math.isfinite(r["grad_ratio"])]
    if any("grad_ratio" in r for r in rows):
        out["grad_ratio_min"] = min(ratios) if ratios else math.nan
        out["grad_ratio_max"] = max(ratios) if ratios else math.nan
    return out
