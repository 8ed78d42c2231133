"""Run by tests/test_xla_programs.py in a fresh process with XLA_FLAGS=--xla_dump_to=DUMP:

    python tests/xla_programs_driver.py BACKEND DUMP WORKDIR

trains a small packed grid (both paddings, diagnostics and the timing pass on) on BACKEND,
and on JAX also one whole epoch and evaluation through the compiled scan (the GPU's loop,
which the CPU does not pick itself). Then it lists the programs XLA compiled so far, and
those that contain select-and-scatter. Then, as a control that the listing can see such
programs, it compiles one that must show up: on JAX Keras' own MaxPooling2D's gradient, on
TensorFlow a tf.function with jit_compile=True. Prints one JSON line.
"""

import json
import sys
from pathlib import Path

from tiny import load_tiny

OFFENDING = "select-and-scatter"


def programs(dump: Path) -> dict[str, bool]:
    """HLO text file name -> whether it contains select-and-scatter."""
    return {p.name: OFFENDING in p.read_text(errors="replace") for p in sorted(dump.glob("*.txt"))}


def grid(workdir: Path, backend: str):
    return load_tiny(
        workdir,
        "grid",
        backend=backend,
        seeds=[0],
        activations=["relu", "tanh"],
        training={"epochs": 1, "train_limit": 200, "test_limit": 64},
        variants=[{"label": "valid"}, {"label": "same", "model": {"padding": "same", "pool_size": 3}}],
    )


def whole_epoch(exp) -> None:
    """One epoch and one evaluation of the packed `same` model through the scan loop."""
    from actbench import datasets
    from actbench.training import engine
    from actbench.training.backends.jax_loop import CompiledEpochLoop

    data = datasets.prepare(datasets.load("mnist_sample"), train_limit=100, test_limit=32, validation_split=0.2)
    model, _ = engine.compile_group(data, exp.models[-1], exp.activation_specs, 0, exp.training)
    loop = CompiledEpochLoop(model, whole_epoch=True)
    loop.train_epoch(data.x_train, data.y_train, 16, validation=(data.x_val, data.y_val))
    loop.evaluate(data.x_test, data.y_test, 16)


def control(backend: str) -> None:
    if backend == "jax":
        import jax
        import jax.numpy as jnp
        import keras

        pool = keras.layers.MaxPooling2D(2)
        jax.jit(jax.grad(lambda x: jnp.sum(pool(x))))(jnp.ones((1, 4, 4, 1)))
    else:
        import tensorflow as tf

        tf.function(lambda x: tf.reduce_sum(x * 2.0), jit_compile=True)(tf.ones((2,)))


def main(backend: str, dump: Path, workdir: Path) -> None:
    from actbench.run.runner import RunOptions, run_experiment

    exp = grid(workdir, backend)
    out = run_experiment(exp, RunOptions(command_line=["xla_programs_driver"])).output_dir
    if backend == "jax":
        whole_epoch(exp)
    seen = programs(dump)
    control(backend)
    after = programs(dump)
    print(
        json.dumps(
            {
                "runs_csv": (out / "runs.csv").read_text(),
                "programs": sorted(seen),
                "offending": sorted(name for name, bad in seen.items() if bad),
                "control_programs": sorted(set(after) - set(seen)),
                "control_offending": sorted(name for name, bad in after.items() if bad and name not in seen),
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]))
