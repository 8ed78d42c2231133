"""The JAX adapter: XLA's deterministic ops, devices, gradients for diagnostics, and the
compiled-epoch training loop (jax_loop.py)."""

from __future__ import annotations

import importlib.util
import os
import re

from .base import Backend, import_quietly
from .jax_loop import CompiledEpochLoop


class JaxBackend(Backend):
    name = package = "jax"
    gpu_packages = ("jax-cuda12-plugin",)  # pulled in by jax[cuda12] (the jax-cuda extra)

    def configure(self, deterministic: bool) -> dict:
        settings = super().configure(deterministic)
        # Keras' set_random_seed imports TensorFlow whenever it is installed (to seed tf.data), and
        # TensorFlow's start-up lines would say "GPU will not be used" on a JAX GPU run: import it
        # now, quietly. Without it (or broken), Keras skips it as well.
        if importlib.util.find_spec("tensorflow") is not None:
            try:
                import_quietly("tensorflow")
            except ImportError:
                pass
        return settings

    def determinism(self, deterministic: bool) -> dict:
        if not deterministic:
            return {}
        # Read when XLA's GPU backend starts (at the first computation, after this import);
        # the CPU's kernels are deterministic already.
        flags = os.environ.get("XLA_FLAGS", "")
        if "xla_gpu_deterministic_ops" not in flags:
            os.environ["XLA_FLAGS"] = (flags + " --xla_gpu_deterministic_ops=true").strip()
        return {"xla_flags": os.environ["XLA_FLAGS"]}

    def list_devices(self) -> list[str]:
        import jax

        return [str(d) for d in jax.devices()]

    def max_pooling_2d(self, pool_size: int, padding: str, name: str):
        # Keras' layer differentiates through select-and-scatter, which XLA refuses to compile
        # on a GPU under deterministic ops; this one has the same numbers and no scatter.
        from .jax_pooling import FirstMaxPooling2D

        return FirstMaxPooling2D(pool_size, padding=padding, name=name)

    def swap_user_layers(self, model) -> list[str]:
        # The user's MaxPooling2D layers become FirstMaxPooling2D, as actbench's own models pool.
        from .jax_pooling import swap_in

        return swap_in(model)

    def gpu_unsafe_ops(self, model, x, y, batch_size: int) -> dict[str, str] | None:
        program = CompiledEpochLoop(model).step_program(x, y, batch_size)
        found = {}
        # XLA's determinism notes (openxla docs/determinism.md): scatter and select-and-scatter
        # are nondeterministic on GPUs; under deterministic ops scatter gets a slower
        # deterministic kernel, and select-and-scatter, which has none, fails to compile.
        if "select_and_scatter" in program:
            found["select-and-scatter"] = "no deterministic GPU implementation: compilation fails"
        if re.search(r"stablehlo\.scatter\b", program):
            found["scatter"] = "runs, with a slower deterministic implementation"
        return found

    def loop(self, model):
        return CompiledEpochLoop(model)

    def kernel_gradients(self, probe, kernels, x, loss_of_outputs):
        import jax

        trainable = [v.value for v in probe.trainable_variables]
        frozen = [v.value for v in probe.non_trainable_variables]

        def loss_of(tv):
            outputs, _ = probe.stateless_call(tv, frozen, x, training=False)
            return loss_of_outputs(outputs), outputs

        (_, outputs), grads = jax.value_and_grad(loss_of, has_aux=True)(trainable)
        index = {id(v): i for i, v in enumerate(probe.trainable_variables)}
        return outputs, [grads[index[id(k)]] for k in kernels]

    def elementwise_grad(self, layer, z):
        import jax
        import jax.numpy as jnp

        return jax.grad(lambda t: jnp.sum(layer(t)))(z)

    compiled_by = "jax.jit"

    def compiled_value_and_grad(self, fn):
        import jax

        def total(x):
            y = fn(x)
            return jax.numpy.sum(y), y

        step = jax.jit(jax.value_and_grad(total, has_aux=True))

        def value_and_grad(x):
            (_, y), grad = step(x)
            return y, grad

        return value_and_grad
