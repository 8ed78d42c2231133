"""CompiledEpochLoop: on JAX, a whole epoch (or evaluation) is one compiled program.

model.fit on JAX dispatches one jitted step per batch from Python and feeds each batch
from the host; for the reference model at batch 32 a GPU then waits on launches and
copies, not on arithmetic. Here:
- the arrays go to the device once per loop (one loop per (dataset, group)); each epoch
  sends only its permutation (the engine's, from seed and epoch);
- on a GPU one jitted program runs every step: jax.lax.scan over the full batches, then
  the short last batch (when there is one) as fit runs it, gathered on the device by index
  (on the CPU one jitted step per batch is faster: see CompiledEpochLoop);
- each step is Keras' own model.train_step / test_step, the stateless functions fit's JAX
  trainer jits (model.stateless_call, the compiled Keras losses, jax.value_and_grad, the
  optimizer's stateless_apply, metric updates), so the math is fit's; packed towers stay
  one model;
- metrics accumulate in the metric variables on the device; their results come back once
  per call, and the new state is assigned to the model's variables (diagnostics read them).
tests/jax_backend/compiled_loop_checks.py holds it to model.fit / model.evaluate.
"""

from __future__ import annotations

import numpy as np

from .base import DeviceCopies
from .fit import targets


class CompiledEpochLoop:
    """Epochs of model.train_step and evaluations of model.test_step on device-resident data.

    whole_epoch=True: one program per epoch (scan), the default on GPUs and TPUs.
    whole_epoch=False: one jitted step per batch, dispatched from Python, the default on
    the CPU: XLA's CPU backend runs a scan's body several times slower than the same step
    compiled on its own (measured: an epoch of 3 towers 26.8 s as one scan against 10.8 s
    stepwise, 1 tower 3.5 s against 1.6 s; benchmarks/README.md), while dispatch costs
    next to nothing there. Same step functions, same batches: stepwise equals model.fit
    bit for bit (each step compiled alone, as fit compiles it); whole epochs give fit's metrics
    within 1e-5 relative, the final weights only within 1e-2 (XLA fuses the step differently
    inside one program; tests/jax_backend/compiled_loop_checks.py).
    """

    def __init__(self, model, whole_epoch: bool | None = None):
        import jax

        self.model = model
        self.n_outputs = len(model.outputs)
        self.whole_epoch = jax.default_backend() != "cpu" if whole_epoch is None else whole_epoch
        self._device = DeviceCopies(jax.device_put)
        self._built = False
        self._train = self._driver(model.train_step)
        self._test = self._driver(model.test_step)

    def train_epoch(self, x, y, batch_size: int, order=None, validation=None) -> dict:
        """One pass over (x, y) in `order` (None: as given), then over `validation`
        (x_val, y_val) when given; the epoch's metrics as fit's history names them."""
        model = self.model
        self._build(x, y, batch_size)
        model.reset_metrics()
        index = np.arange(len(y)) if order is None else np.asarray(order)
        state, results = self._train(
            self._train_state(), self._device(x), self._device(y), *_batches(index, batch_size)
        )
        for variables, values in zip(
            (
                model.trainable_variables,
                model.non_trainable_variables,
                model.optimizer.variables,
                model.metrics_variables,
            ),
            state,
            strict=True,
        ):
            _assign(variables, values)
        logs = _floats(results)
        if validation is not None:
            x_val, y_val = validation
            logs.update({f"val_{k}": v for k, v in self.evaluate(x_val, y_val, batch_size).items()})
        return logs

    def step_program(self, x, y, batch_size: int) -> str:
        """The training step's program for batches of (x, y), as XLA receives it (StableHLO text):
        what `doctor` reads for ops a GPU cannot run deterministically. Nothing runs."""
        import jax

        self._build(x, y, batch_size)
        index = np.arange(batch_size, dtype=np.int32)
        return jax.jit(self._one_step(self.model.train_step)).lower(self._train_state(), x, y, index).as_text()

    def _train_state(self) -> tuple:
        model = self.model
        return (
            [v.value for v in model.trainable_variables],
            [v.value for v in model.non_trainable_variables],
            [v.value for v in model.optimizer.variables],
            [v.value for v in model.metrics_variables],
        )

    def warm_up(self, x, y, batch_size: int, training: bool) -> None:
        """Compile the program for arrays shaped like (x, y), by running it once: the
        number of batches and the last batch's size are part of a program's shapes."""
        if training:
            self.train_epoch(x, y, batch_size)
        else:
            self.evaluate(x, y, batch_size)

    def evaluate(self, x, y, batch_size: int) -> dict:
        model = self.model
        self._build(x, y, batch_size)
        model.reset_metrics()
        state = (
            [v.value for v in model.trainable_variables],
            [v.value for v in model.non_trainable_variables],
            [v.value for v in model.metrics_variables],
        )
        state, results = self._test(state, self._device(x), self._device(y), *_batches(np.arange(len(y)), batch_size))
        _assign(model.non_trainable_variables, state[1])
        _assign(model.metrics_variables, state[2])
        return _floats(results)

    def _driver(self, step):
        """(state, x, y, full batches' indices, last batch's indices) -> (state, metric
        results): `step` over the full batches in order, then over the short one."""
        import jax

        model = self.model
        # Donating the state lets XLA update it in place (GPU memory); the CPU cannot use
        # donated buffers and would warn on every call.
        donate = (0,) if jax.default_backend() != "cpu" else ()
        one_step = self._one_step(step)

        def results(metrics_values):
            return _metric_results(model, metrics_values)

        def whole_epoch(state, x, y, full, rest):
            state, _ = jax.lax.scan(lambda s, index: (one_step(s, x, y, index), None), state, full)
            if rest.shape[0]:  # static: the remainder's size is part of the traced shapes
                state = one_step(state, x, y, rest)
            return state, results(state[-1])

        if self.whole_epoch:
            return jax.jit(whole_epoch, donate_argnums=donate)
        compiled_step, compiled_results = jax.jit(one_step, donate_argnums=donate), jax.jit(results)

        def stepwise(state, x, y, full, rest):
            for index in [*full, rest] if len(rest) else full:
                state = compiled_step(state, x, y, index)
            return state, compiled_results(state[-1])

        return stepwise

    def _one_step(self, step):
        """(state, x, y, batch indices) -> state after `step` on that batch, gathered on the device."""
        import jax.numpy as jnp

        n = self.n_outputs

        def one_step(state, x, y, index):
            batch = (jnp.take(x, index, axis=0), targets(jnp.take(y, index, axis=0), n))
            _, state = step(state, batch)
            return state

        return one_step

    def _build(self, x, y, batch_size: int) -> None:
        """Create the optimizer's and metrics' variables, symbolically (no step runs), as
        fit and evaluate do before their first step."""
        if not self._built:
            example = (x[:batch_size], targets(y[:batch_size], self.n_outputs))
            self.model._symbolic_build(data_batch=example)  # Keras' own build, as fit calls it
            self._built = True


def _batches(index: np.ndarray, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """index split into full batches (steps, batch_size) and the remainder, as int32."""
    full = len(index) // batch_size
    index = index.astype(np.int32)
    return index[: full * batch_size].reshape(full, batch_size), index[full * batch_size :]


def _metric_results(model, metrics_values) -> dict:
    """model.get_metrics_result() on the given metric variable values (inside the program)."""
    import keras

    with keras.StatelessScope(state_mapping=list(zip(model.metrics_variables, metrics_values, strict=True))):
        return model.get_metrics_result()


def _assign(variables, values) -> None:
    for variable, value in zip(variables, values, strict=True):
        variable.assign(value)


def _floats(results: dict) -> dict:
    import jax

    return {k: float(v) for k, v in jax.device_get(results).items()}
