"""The TensorFlow adapter: op determinism and threads, and InMemoryLoop.

InMemoryLoop runs Keras' own model.train_step / model.test_step inside one tf.function
per STEPS_PER_CALL batches, on batches sliced from the arrays in memory (on a GPU: gathered from
arrays placed on the device once). The math
(forward pass, losses, gradients, optimizer update, metrics) is Keras' own, so the numbers
equal model.fit's and model.evaluate's bit for bit (tests/test_engine.py checks); what it
leaves out is fit's machinery around the step (tf.data iterator, callbacks). On a 2-core
CPU a packed epoch of 5 towers on Fashion-MNIST took 18.3 s this way against 19.4 s
through fit, and the benchmark grid ~62-64 s against ~70-74 s (benchmarks/README.md).
"""

from __future__ import annotations

import os

import numpy as np

from . import STEPS_PER_CALL
from .base import Backend, DeviceCopies
from .fit import targets


class TensorFlowBackend(Backend):
    name = package = "tensorflow"
    gpu_packages = ("nvidia-cudnn-cu12",)  # pulled in by tensorflow[and-cuda] (the tf-cuda extra)

    def determinism(self, deterministic: bool) -> dict:
        import tensorflow as tf

        # Every model of the packed engine's timing pass traces its own functions, by
        # design; TensorFlow's Python logger would warn about "retracing" each time.
        tf.get_logger().setLevel("ERROR")
        if not deterministic:
            return {}
        # Deterministic kernels; XLA auto-jit is left off (it conflicts with op
        # determinism for max-pool gradients on GPU).
        tf.config.experimental.enable_op_determinism()
        tf.config.optimizer.set_jit(False)
        # oneDNN splits work by the intra-op thread count, so the last bits of every
        # result depend on the machine's core count unless it is fixed. One thread per
        # op, towers of a packed model in parallel (inter-op) on all cores.
        try:
            tf.config.threading.set_intra_op_parallelism_threads(1)
            tf.config.threading.set_inter_op_parallelism_threads(os.cpu_count() or 1)
        except RuntimeError:
            pass  # TensorFlow already ran in this process (a library caller): keep its threads
        return {
            "tf_op_determinism": True,
            "tf_threads": {
                "intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
                "inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
            },
        }

    def list_devices(self) -> list[str]:
        import tensorflow as tf

        return [f"{d.device_type}:{d.name}" for d in tf.config.list_physical_devices()]

    def loop(self, model):
        import tensorflow as tf

        return InMemoryLoop(model, resident=bool(tf.config.list_logical_devices("GPU")))

    def kernel_gradients(self, probe, kernels, x, loss_of_outputs):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            outputs = probe(x, training=False)
            loss = loss_of_outputs(outputs)
        return outputs, tape.gradient(loss, [k.value for k in kernels])

    def elementwise_grad(self, layer, z):
        import tensorflow as tf

        z = tf.convert_to_tensor(z)
        with tf.GradientTape() as tape:
            tape.watch(z)
            out = tf.reduce_sum(layer(z))
        return tape.gradient(out, z)

    compiled_by = "tf.function"

    def compiled_value_and_grad(self, fn):
        import tensorflow as tf

        @tf.function
        def step(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = fn(x)
                total = tf.reduce_sum(y)
            return y, tape.gradient(total, x)

        return step


class InMemoryLoop:
    """Epochs of model.train_step / model.test_step over in-memory batches, STEPS_PER_CALL per call.

    Two ways to feed a call, same batches, same numbers (tests hold both to model.fit):
    - resident (the default on a GPU): each array goes to the device once while the loop lives
      (one loop per group); a call gets only the int32 indices of its batches, in the engine's
      order, and gathers them there (tf.gather: exact, deterministic). On a GPU this removes the
      host permutation of the training set per epoch and a host-to-device copy per call, host
      work the GPU waits for (~0.1 s per Fashion-MNIST epoch on this CPU: benchmarks/README.md).
    - sliced (the default on the CPU, where "the device" is host memory and gathering costs as
      much as slicing): the epoch's permutation is taken on the host, and each call gets its slices.
    """

    def __init__(self, model, steps_per_call: int = STEPS_PER_CALL, resident: bool = False):
        self.model = model
        self.n_outputs = len(model.outputs)
        self.steps_per_call = steps_per_call
        self.resident = resident
        self._train = self._test = None
        self._device = DeviceCopies(_as_tensor)  # used when resident

    def train_epoch(self, x, y, batch_size: int, order=None, validation=None) -> dict:
        """One pass over (x, y) in `order` (None: as given), then over `validation`
        (x_val, y_val) when given; returns the epoch's metrics as fit's history names them."""
        if self._train is None:
            self._train = self._function(self.model.train_step, x, y)
        self.model.reset_metrics()
        self._run(self._train, x, y, order, batch_size)
        logs = self._results()
        if validation is not None:
            x_val, y_val = validation
            logs.update({f"val_{k}": v for k, v in self.evaluate(x_val, y_val, batch_size).items()})
        return logs

    def warm_up(self, x, y, batch_size: int, training: bool) -> None:
        """Trace the train (or test) function, unless done: one batch of (x, y) runs.
        The batch dimensions are left open, so every later call reuses the trace."""
        if training and self._train is None:
            self.train_epoch(x[:batch_size], y[:batch_size], batch_size)
        elif not training and self._test is None:
            self.evaluate(x[:batch_size], y[:batch_size], batch_size)

    def evaluate(self, x, y, batch_size: int) -> dict:
        if self._test is None:
            self._test = self._function(self.model.test_step, x, y)
        self.model.reset_metrics()
        self._run(self._test, x, y, None, batch_size)
        return self._results()

    def _function(self, step, x, y):
        import tensorflow as tf

        n, example = self.n_outputs, list(x.shape[1:])
        x_type, y_type = tf.as_dtype(x.dtype), tf.as_dtype(y.dtype)

        def gathered(x_all, y_all, batches):  # batches: (the call's batches, batch) indices into x_all
            for j in tf.range(tf.shape(batches)[0]):
                step((tf.gather(x_all, batches[j]), targets(tf.gather(y_all, batches[j]), n)))
            return 0

        def sliced(xs, ys):  # xs: (the call's batches, batch, *example shape); ys: (batches, batch)
            for j in tf.range(tf.shape(xs)[0]):
                step((xs[j], targets(ys[j], n)))
            return 0

        # Sizes left open, so another array, a short last batch or call does not trace again.
        if self.resident:
            index = tf.TensorSpec([None, None], tf.int32)
            return tf.function(
                gathered,
                input_signature=[tf.TensorSpec([None, *example], x_type), tf.TensorSpec([None], y_type), index],
            )
        return tf.function(
            sliced, input_signature=[tf.TensorSpec([None, None, *example], x_type), tf.TensorSpec([None, None], y_type)]
        )

    def _run(self, function, x, y, order, batch_size: int) -> None:
        calls = self._gathered_calls if self.resident else self._sliced_calls
        for args in calls(x, y, order, batch_size):
            function(*args)

    def _gathered_calls(self, x, y, order, batch_size: int):
        x_all, y_all = self._device(x), self._device(y)
        index = (np.arange(len(y)) if order is None else np.asarray(order)).astype(np.int32)
        full = len(index) // batch_size
        batches = index[: full * batch_size].reshape(full, batch_size)
        for start in range(0, full, self.steps_per_call):
            yield x_all, y_all, batches[start : start + self.steps_per_call]
        if len(index) > full * batch_size:  # the last, smaller batch, as fit runs it
            yield x_all, y_all, index[full * batch_size :][None]

    def _sliced_calls(self, x, y, order, batch_size: int):
        if order is not None:
            x, y = x[order], y[order]
        full = len(y) // batch_size
        xs = np.reshape(x[: full * batch_size], (full, batch_size, *x.shape[1:]))
        ys = np.reshape(y[: full * batch_size], (full, batch_size))
        for start in range(0, full, self.steps_per_call):
            yield xs[start : start + self.steps_per_call], ys[start : start + self.steps_per_call]
        if len(y) > full * batch_size:  # the last, smaller batch, as fit runs it
            yield x[full * batch_size :][None], y[full * batch_size :][None]

    def _results(self) -> dict:
        return {k: float(v) for k, v in self.model.get_metrics_result().items()}


def _as_tensor(array):
    """array as a tensor on TensorFlow's default device."""
    import tensorflow as tf

    return tf.constant(array)
