"""KerasFitLoop: the loop interface through model.fit / model.evaluate themselves.

The reference the backends' own loops are tested against (bit for bit on TensorFlow,
within 1e-5 on JAX), and benchmarks/bench_packing.py --fit's driver.
"""

from __future__ import annotations


def targets(y, n_outputs: int):
    """The labels as the model's outputs take them: every tower learns the same labels."""
    return y if n_outputs == 1 else tuple([y] * n_outputs)


class KerasFitLoop:
    """Epochs through model.fit (one epoch per call, data in the given order) and model.evaluate."""

    def __init__(self, model):
        self.model = model
        self.n_outputs = len(model.outputs)

    def train_epoch(self, x, y, batch_size: int, order=None, validation=None) -> dict:
        if order is not None:
            x, y = x[order], y[order]
        val = None if validation is None else (validation[0], targets(validation[1], self.n_outputs))
        history = self.model.fit(
            x,
            targets(y, self.n_outputs),
            batch_size=batch_size,
            epochs=1,
            shuffle=False,
            validation_data=val,
            verbose=0,
        ).history
        return {k: float(v[-1]) for k, v in history.items()}

    def warm_up(self, x, y, batch_size: int, training: bool) -> None:
        """Trace fit's (or evaluate's) step: one batch of (x, y) runs."""
        if training:
            self.train_epoch(x[:batch_size], y[:batch_size], batch_size)
        else:
            self.evaluate(x[:batch_size], y[:batch_size], batch_size)

    def evaluate(self, x, y, batch_size: int) -> dict:
        return {
            k: float(v)
            for k, v in self.model.evaluate(
                x, targets(y, self.n_outputs), batch_size=batch_size, verbose=0, return_dict=True
            ).items()
        }
