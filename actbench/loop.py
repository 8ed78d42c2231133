"""One epoch of training, or one evaluation, of a compiled Keras model: for_model(model).

On TensorFlow, InMemoryLoop runs Keras' own model.train_step / model.test_step inside
one tf.function per STEPS_PER_CALL batches, on batches sliced from the arrays already in
memory. The math (forward pass, losses, gradients, optimizer update, metrics) is Keras'
own, so the numbers equal model.fit's and model.evaluate's bit for bit
(tests/test_engine.py checks); what it leaves out is fit's machinery around the step
(tf.data iterator, callbacks). On a 2-core CPU a packed epoch of 5 towers on
Fashion-MNIST took 18.3 s this way against 19.4 s through fit, and the benchmark grid
~62-64 s against ~70-74 s (benchmarks/README.md).
Other backends use model.fit / model.evaluate themselves (KerasFitLoop).
"""

from __future__ import annotations

import numpy as np

STEPS_PER_CALL = 32  # batches per tf.function call: little Python per step, Ctrl-C still felt within a second


def for_model(model):
    import keras
    return InMemoryLoop(model) if keras.backend.backend() == "tensorflow" else KerasFitLoop(model)


def _targets(y, n_outputs: int):
    """The labels as the model's outputs take them: every tower learns the same labels."""
    return y if n_outputs == 1 else tuple([y] * n_outputs)


class InMemoryLoop:
    """Epochs of model.train_step / model.test_step over in-memory batches (TensorFlow)."""

    def __init__(self, model):
        self.model = model
        self.n_outputs = len(model.outputs)
        self._train = self._test = None

    def train_epoch(self, x, y, batch_size: int, validation=None) -> dict:
        """One pass over (x, y) in the given order, then over `validation` (x_val, y_val)
        when given; returns the epoch's metrics as fit's history names them."""
        if self._train is None:
            self._train = self._function(self.model.train_step, x, y)
        self.model.reset_metrics()
        self._run(self._train, x, y, batch_size)
        logs = self._results()
        if validation is not None:
            logs.update({f"val_{k}": v for k, v in self.evaluate(*validation, batch_size).items()})
        return logs

    def evaluate(self, x, y, batch_size: int) -> dict:
        if self._test is None:
            self._test = self._function(self.model.test_step, x, y)
        self.model.reset_metrics()
        self._run(self._test, x, y, batch_size)
        return self._results()

    def _function(self, step, x, y):
        import tensorflow as tf

        n = self.n_outputs

        def run(xs, ys):  # xs: (calls' batches, batch, *example shape); ys: (batches, batch)
            for j in tf.range(tf.shape(xs)[0]):
                step((xs[j], _targets(ys[j], n)))
            return 0

        # Batch dimensions left open (as fit's iterator leaves them), so a short last
        # batch or call does not trace again.
        signature = [tf.TensorSpec([None, None, *x.shape[1:]], tf.as_dtype(x.dtype)),
                     tf.TensorSpec([None, None], tf.as_dtype(y.dtype))]
        return tf.function(run, input_signature=signature)

    def _run(self, function, x, y, batch_size: int) -> None:
        full = len(y) // batch_size
        xs = np.reshape(x[: full * batch_size], (full, batch_size, *x.shape[1:]))
        ys = np.reshape(y[: full * batch_size], (full, batch_size))
        for start in range(0, full, STEPS_PER_CALL):
            function(xs[start:start + STEPS_PER_CALL], ys[start:start + STEPS_PER_CALL])
        if len(y) > full * batch_size:  # the last, smaller batch, as fit runs it
            function(x[full * batch_size:][None], y[full * batch_size:][None])

    def _results(self) -> dict:
        return {k: float(v) for k, v in self.model.get_metrics_result().items()}


class KerasFitLoop:
    """The same interface through model.fit / model.evaluate (JAX and torch backends)."""

    def __init__(self, model):
        self.model = model
        self.n_outputs = len(model.outputs)

    def train_epoch(self, x, y, batch_size: int, validation=None) -> dict:
        val = None if validation is None else (validation[0], _targets(validation[1], self.n_outputs))
        history = self.model.fit(x, _targets(y, self.n_outputs), batch_size=batch_size, epochs=1, shuffle=False,
                                 validation_data=val, verbose=0).history
        return {k: float(v[-1]) for k, v in history.items()}

    def evaluate(self, x, y, batch_size: int) -> dict:
        return {k: float(v) for k, v in self.model.evaluate(x, _targets(y, self.n_outputs), batch_size=batch_size,
                                                            verbose=0, return_dict=True).items()}
