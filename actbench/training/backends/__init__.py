"""One adapter per Keras backend, chosen once from the config's `backend`: for_name(name).

An adapter owns everything that differs between backends: selecting and configuring it
(environment, deterministic ops), listing devices and versions, the training loop the
engine drives, and the gradients diagnostics take. Nothing outside this package branches
on the backend's name. Adding a backend is one module here and one entry in ADAPTERS (the
config accepts the names of ADAPTERS); it ships only with tests that run it in CI. This
module imports no adapter and no Keras: the config reads NAMES from it.
"""

from __future__ import annotations

import importlib

from .base import Backend

# Batches per compiled call wherever a loop groups steps (the TensorFlow loop's
# tf.function, fit's steps_per_execution): little Python per step, Ctrl-C felt within a second.
STEPS_PER_CALL = 32

# name -> (module, class); imported only when chosen, so choosing one never imports another.
ADAPTERS = {
    "tensorflow": ("actbench.training.backends.tensorflow", "TensorFlowBackend"),
    "jax": ("actbench.training.backends.jax", "JaxBackend"),
}
NAMES = tuple(ADAPTERS)


def for_name(name: str) -> Backend:
    """The adapter of backend `name` (one of NAMES; config validation guarantees it)."""
    module, cls = ADAPTERS[name]
    return getattr(importlib.import_module(module), cls)()


__all__ = ["ADAPTERS", "NAMES", "STEPS_PER_CALL", "Backend", "for_name"]
