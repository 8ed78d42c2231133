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
on the summed loss). Keras is imported lazily: configure the backend first
(actbench.backends.for_name(name).configure(...)); the adapter then gives the training loop
and the gradients diagnostics take, so nothing here depends on the backend.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from actbench.errors import ConfigError, describe_error, is_machine_error

from . import backends, diagnostics
from .model import build_model
from .record import RunRecord

TIMING_STEPS = 32  # train steps timed per activation in the packed engine's timing pass
TIMING_TEST_EXAMPLES = 2048  # test examples whose inference the timing pass times
# runs.csv `timing`: how a run's seconds were measured. Files written before the rename
# say "fit" for IN_RUN (it never meant model.fit alone); readers accept both.
TIMING_IN_RUN, TIMING_PASS, TIMING_SHARED = "in-run", "timing-pass", "shared"
# A run diverged when its epoch loss is NaN/inf or above this: cross-entropy at chance
# is ln(n_classes) (2.3 for 10 classes), so 1e6 is blown up, not slow learning.
DIVERGENCE_LOSS = 1e6


@dataclass
class RunResult:
    run: RunRecord
    epochs: list[dict] = field(default_factory=list)


@dataclass
class Group:
    """What one train_group call trains: activations `specs` on `data` under `seed`."""

    data: Any  # datasets' prepared splits
    arch: Any  # config.ModelSpec
    specs: list  # config activation specs, one tower each
    seed: int
    training: Any  # config.TrainingSpec of this model (Experiment.training_for(arch))


def failed_run(spec, error: BaseException, engine: str, backend: str) -> RunResult:
    """The result of a run whose training raised (e.g. a custom activation failing on some
    inputs): no numbers, the reason in one line (the original exception's, not a wrapper's)."""
    return RunResult(run=RunRecord.failure_of(spec.name, describe_error(error), engine, backend))


@dataclass
class TowerRun:
    """One activation's part of a group: its single-activation model and its epoch rows."""

    index: int
    spec: Any
    model: Any
    rows: list[dict] = field(default_factory=list)
    diverged_epoch: int | None = None
    error: Exception | None = None  # what this tower alone raised (diagnostics, timing pass): a failed run

    @property
    def diverged(self) -> bool:
        return self.diverged_epoch is not None

    @property
    def stopped(self) -> bool:
        """Diverged or failed: nothing more is recorded for it (the shared loop trains it on)."""
        return self.diverged or self.error is not None


@dataclass
class Timing:
    """How a run's time was measured (one of the TIMING_* labels) and its test throughput."""

    label: str
    examples_per_second: float = math.nan


@dataclass
class EpochLog:
    """What one trained epoch reported, as the loop names the metrics."""

    epoch: int
    history: dict
    seconds: float
    has_validation: bool


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The data order of one epoch: the same for every activation and both engines."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def make_optimizer(spec):
    """The Keras optimizer of an OptimizerSpec, with its gradient clipping (None = off, Keras' default)."""
    import keras

    clipping = {"clipnorm": spec.clipnorm, "clipvalue": spec.clipvalue, "global_clipnorm": spec.global_clipnorm}
    if spec.name == "adam":
        return keras.optimizers.Adam(learning_rate=spec.learning_rate, **clipping)
    if spec.name == "sgd":
        return keras.optimizers.SGD(learning_rate=spec.learning_rate, momentum=spec.momentum, **clipping)
    return keras.optimizers.RMSprop(learning_rate=spec.learning_rate, momentum=spec.momentum, **clipping)


def build_tower_model(data, arch, spec, seed: int):
    """The single-activation model of a run, with the run's initial weights."""
    import keras

    keras.utils.set_random_seed(seed)
    model = build_model(arch, data.input_shape, data.num_classes, spec.name, spec.build_params)
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
    model.compile(
        optimizer=make_optimizer(training.optimizer),
        loss=["sparse_categorical_crossentropy"] * len(towers),
        metrics=[["accuracy", keras.metrics.SparseCategoricalCrossentropy(name="ce")] for _ in towers],
        steps_per_execution=backends.STEPS_PER_CALL,
    )
    return model, towers


class GroupTrainer:
    """Trains groups of runs of one experiment on one backend adapter; caches the packed
    engine's timing passes across groups (they do not depend on the seed)."""

    def __init__(self, exp, adapter):
        self.exp = exp
        self.adapter = adapter
        self._timing_cache: dict = {}

    def train_group(self, group: Group, on_epoch=None) -> list[RunResult]:
        """One RunResult per spec of `group`. on_epoch(epoch, epochs) is called after each
        epoch (for progress display). A device without a deterministic kernel for an op
        (deterministic: true) stops the run with a ConfigError that names the op."""
        try:
            return self._train_group(group, on_epoch)
        except Exception as e:
            problem = self.adapter.determinism_problem(e) if self.exp.training.deterministic else None
            if problem is None:
                raise
            raise ConfigError(problem) from None

    def _train_group(self, group: Group, on_epoch) -> list[RunResult]:
        model, tower_models = compile_group(group.data, group.arch, group.specs, group.seed, group.training)
        loop = self.adapter.loop(model)
        towers = [TowerRun(i, spec, m) for i, (spec, m) in enumerate(zip(group.specs, tower_models, strict=True))]
        self._train(loop, group, towers, on_epoch)
        test, test_seconds = self._test(loop, group, towers)
        return [self._tower_result(group, tower, len(towers), test, test_seconds) for tower in towers]

    def _tower_result(self, group: Group, tower: TowerRun, n: int, test: dict, test_seconds: float) -> RunResult:
        """The tower's RunResult; failed when its own steps (diagnostics, timing pass, its numbers)
        raised. The others of the group are not affected: towers share only the batches."""
        engine, backend = self.exp.training.engine, self.adapter.name
        if tower.error is None:
            try:
                return self._result(tower, n, test, self._timing(group, tower, n, test_seconds))
            except Exception as e:
                _reraise_if_machine(e)
                tower.error = e
        return failed_run(tower.spec, tower.error, engine, backend)

    def _train(self, loop, group: Group, towers: list[TowerRun], on_epoch) -> None:
        data, training, diag = group.data, group.training, self.exp.diagnostics
        val = (data.x_val, data.y_val) if len(data.y_val) else None
        probe = diagnostics.probe_batch(data.x_train, data.y_train, diag.probe_size, group.seed)
        for epoch in range(1, training.epochs + 1):
            order = epoch_order(len(data.y_train), group.seed, epoch)
            start = time.perf_counter()
            history = loop.train_epoch(data.x_train, data.y_train, training.batch_size, order=order, validation=val)
            log = EpochLog(epoch, history, time.perf_counter() - start, val is not None)
            for tower in towers:
                if not tower.stopped:
                    self._record_epoch(tower, len(towers), log, probe)
            if on_epoch:
                on_epoch(epoch, training.epochs)
            if all(t.stopped for t in towers):
                break

    def _record_epoch(self, tower: TowerRun, n: int, log: EpochLog, probe: diagnostics.Probe) -> None:
        """Append the tower's epoch row; mark it diverged, or add its diagnostics."""
        i, diag, history = tower.index, self.exp.diagnostics, log.history
        row = {
            "epoch": log.epoch,
            "loss": _metric(history, i, n, "ce"),
            "accuracy": _metric(history, i, n, "accuracy"),
            "val_loss": _metric(history, i, n, "ce", "val_") if log.has_validation else math.nan,
            "val_accuracy": _metric(history, i, n, "accuracy", "val_") if log.has_validation else math.nan,
            "seconds": log.seconds,
        }
        if not (math.isfinite(row["loss"]) and row["loss"] <= DIVERGENCE_LOSS):
            tower.diverged_epoch = log.epoch
        else:
            try:
                if diag.gradients or diag.dead_units or diag.saturation or diag.preactivations:
                    row.update(diagnostics.measure(tower.model, tower.spec, probe, diag, self.adapter))
                row.update(diagnostics.learned_parameters(tower.model))
            except Exception as e:  # the tower's own code on the probe: this run fails, the others go on
                _reraise_if_machine(e)
                tower.error = e
                return
        tower.rows.append(row)

    def _test(self, loop, group: Group, towers: list[TowerRun]) -> tuple[dict, float]:
        """Test metrics (empty when every tower diverged or failed) and the seconds they took."""
        if all(t.stopped for t in towers):
            return {}, math.nan
        # Evaluated at the training batch size, so the timed evaluation is pure inference:
        # the warm-up traces or compiles what validation has not already.
        data, bs = group.data, group.training.batch_size
        loop.warm_up(data.x_test, data.y_test, bs, training=False)
        start = time.perf_counter()
        test = loop.evaluate(data.x_test, data.y_test, bs)
        return test, time.perf_counter() - start

    def _timing(self, group: Group, tower: TowerRun, n: int, test_seconds: float) -> Timing:
        """Sequential: the run's own epochs and test evaluation. Packed: a timing pass of
        the activation alone (its estimate replaces each epoch's shared seconds), or the
        shared epoch time when timing is off."""
        if n == 1:
            measured = self.exp.diagnostics.timing
            return Timing(TIMING_IN_RUN, len(group.data.y_test) / test_seconds if measured else math.nan)
        if not self.exp.diagnostics.timing:
            return Timing(TIMING_SHARED)
        per_epoch, throughput = self._timing_pass(group, tower.spec)
        for row in tower.rows:
            row["seconds"] = per_epoch
        return Timing(TIMING_PASS, throughput)

    def _timing_pass(self, group: Group, spec) -> tuple[float, float]:
        """Seconds per epoch and test throughput of one activation trained alone, estimated
        from TIMING_STEPS timed steps (after the loop's warm-up that traces) on a throwaway
        copy of the model, and from inference over up to TIMING_TEST_EXAMPLES test examples.
        Cached per (dataset, model, activation) since it does not depend on the seed."""
        data, bs = group.data, group.training.batch_size
        key = (data.name, group.arch.label, spec.label)
        if key not in self._timing_cache:
            model = build_tower_model(data, group.arch, spec, group.seed)
            # Training steps as the engine runs them, without metrics (per step they cost
            # next to nothing, but tracing them took ~0.4 s more per model here).
            model.compile(
                optimizer=make_optimizer(group.training.optimizer),
                loss="sparse_categorical_crossentropy",
                steps_per_execution=backends.STEPS_PER_CALL,
            )
            loop = self.adapter.loop(model)
            steps = min(TIMING_STEPS, max(1, len(data.y_train) // bs))
            x, y = data.x_train[: steps * bs], data.y_train[: steps * bs]
            loop.warm_up(x, y, bs, training=True)
            start = time.perf_counter()
            loop.train_epoch(x, y, bs)
            per_step = (time.perf_counter() - start) / steps
            steps_per_epoch = math.ceil(len(data.y_train) / bs)
            val_steps = math.ceil(len(data.y_val) / bs)
            # Inference one batch per call, as predict runs by default (a multi-step predict
            # function takes several times longer to trace than the timed inference itself).
            model.compile(loss="sparse_categorical_crossentropy", steps_per_execution=1)
            throughput = _throughput(model, data.x_test[:TIMING_TEST_EXAMPLES], bs)
            # Validation is forward-only, about a third of a training step.
            self._timing_cache[key] = (per_step * (steps_per_epoch + val_steps / 3), throughput)
        return self._timing_cache[key]

    def _result(self, tower: TowerRun, n: int, test: dict, timing: Timing) -> RunResult:
        import keras

        rows, diverged = tower.rows, tower.diverged
        finished = rows[:-1] if diverged else rows  # the diverged epoch's diagnostics are not measured
        val_acc = [r["val_accuracy"] for r in finished if math.isfinite(r["val_accuracy"])]
        run = RunRecord(
            activation_name=tower.spec.name,
            params=int(tower.model.count_params()),
            epochs_run=len(rows),
            test_loss=math.nan if diverged else _metric(test, tower.index, n, "ce"),
            test_accuracy=math.nan if diverged else _metric(test, tower.index, n, "accuracy"),
            best_val_accuracy=max(val_acc) if val_acc else math.nan,
            best_epoch=finished[int(np.argmax(val_acc))]["epoch"] if val_acc else math.nan,
            train_seconds=float(sum(r["seconds"] for r in rows)),
            seconds_per_epoch=float(np.mean([r["seconds"] for r in rows])) if rows else math.nan,
            timing=timing.label,
            test_examples_per_second=math.nan if diverged else timing.examples_per_second,
            diverged=diverged,
            diverged_epoch=tower.diverged_epoch if diverged and tower.diverged_epoch is not None else math.nan,
            engine=self.exp.training.engine,
            backend=keras.backend.backend(),
            diagnostics=_diagnostic_summary(finished),
        )
        return RunResult(run=run, epochs=rows)


def _reraise_if_machine(e: Exception) -> None:
    # Memory or the file system: the run is stopped (runner), not recorded as this tower's failure.
    if is_machine_error(e):
        raise e


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


def _diagnostic_summary(rows: list[dict]) -> dict:
    """Per-run figures from the per-epoch diagnostics: last-epoch dead fraction, saturation and
    learned activation parameters per layer, and the range of the gradient-norm ratio over epochs."""
    if not rows:
        return {}
    out = {}
    last = rows[-1]
    for key, value in last.items():
        if key.startswith(("dead_fraction/", "saturation/", "param/", "param_std/")):
            out[key] = value
    ratios = [r["grad_ratio"] for r in rows if "grad_ratio" in r and math.isfinite(r["grad_ratio"])]
    if any("grad_ratio" in r for r in rows):
        out["grad_ratio_min"] = min(ratios) if ratios else math.nan
        out["grad_ratio_max"] = max(ratios) if ratios else math.nan
    return out
