"""Proof without a GPU that `deterministic: true` compiles on one: XLA's GPU backend refuses
select-and-scatter (Keras' max-pool gradient on JAX) under --xla_gpu_deterministic_ops, so
no program actbench compiles on JAX may contain it; and the TensorFlow loop must compile
nothing with XLA at all (op determinism is TensorFlow's own kernels).

Each backend trains a small grid in a fresh process (tests/xla_programs_driver.py) with
XLA's dump of every compiled program switched on; the driver then compiles one program that
must show up in the dump, so an empty finding means the dump was read, not missed.
"""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

TESTS = Path(__file__).parent
OFFENDING = "select-and-scatter"


def dump_programs(tmp_path: Path, backend: str) -> dict:
    dump = tmp_path / "xla-dump"
    env = {
        **os.environ,
        "XLA_FLAGS": f"--xla_dump_to={dump} --xla_dump_hlo_as_text",
        "JAX_PLATFORMS": "cpu",
        "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
    }
    env.pop("KERAS_BACKEND", None)  # the config's backend decides
    proc = subprocess.run(
        [sys.executable, str(TESTS / "xla_programs_driver.py"), backend, str(dump), str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        cwd=TESTS.parent,
    )
    assert proc.returncode == 0, f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_no_jax_program_contains_select_and_scatter(tmp_path):
    found = dump_programs(tmp_path, "jax")
    runs = pd.read_csv(io.StringIO(found["runs_csv"]))
    assert len(runs) == 4 and not runs["failed"].any()  # 2 activations x 2 paddings
    assert found["offending"] == [], f"programs with {OFFENDING}: {found['offending']}"
    names = " ".join(found["programs"])
    # The programs of every loop: stepwise training, the whole-epoch scan, evaluation; the
    # diagnostics take their gradients eagerly, one program per op, and the pooling's
    # backward pass shows there as argmax (the timing pass runs the same steps as training).
    for program in ["jit_one_step", "jit_whole_epoch", "jit_predict_step", "jit__argmax"]:
        assert program in names, program
    assert found["control_offending"], "the dump shows no select-and-scatter even for Keras' MaxPooling2D"


@pytest.mark.slow
def test_tensorflow_loop_compiles_nothing_with_xla(tmp_path):
    found = dump_programs(tmp_path, "tensorflow")
    runs = pd.read_csv(io.StringIO(found["runs_csv"]))
    assert len(runs) == 4 and not runs["failed"].any()
    assert found["programs"] == []
    assert found["control_programs"], "a jit_compile=True function left no program in the dump"
