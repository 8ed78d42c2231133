"""The JAX adapter in CI: tests/jax_backend/ in one separate process with KERAS_BACKEND=jax,
and one real `actbench run` on JAX.

Keras picks its backend once per process and the rest of the suite runs TensorFlow in
this one, so the JAX tests cannot share it. jax is part of the `test` extra: a missing
jax fails here rather than skipping, since a shipped backend must be exercised.
"""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).parent


def test_jax_backend_suite():
    assert importlib.util.find_spec("jax") is not None, 'jax is missing: pip install -e ".[test]"'
    files = sorted(str(p) for p in (TESTS / "jax_backend").glob("*.py"))
    env = {
        **os.environ,
        "KERAS_BACKEND": "jax",
        "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        "JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "cpu"),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *files],
        env=env,
        capture_output=True,
        text=True,
        cwd=TESTS.parent,
    )
    assert proc.returncode == 0, f"JAX tests failed:\n{proc.stdout[-8000:]}\n{proc.stderr[-3000:]}"
    assert " passed" in proc.stdout and " skipped" not in proc.stdout, proc.stdout[-2000:]


def test_a_jax_run_prints_none_of_tensorflows_start_up_lines(tmp_path):
    """Keras' set_random_seed imports TensorFlow whenever it is installed; its C++ start-up
    lines ("Could not find cuda drivers on your machine, GPU will not be used") would tell a
    JAX GPU run's user something untrue. The JAX adapter imports TensorFlow quietly first."""
    config = tmp_path / "jax.yaml"
    config.write_text(
        "name: quiet\nbackend: jax\ndatasets: [mnist_sample]\nactivations: [relu]\nseeds: [0]\n"
        "training: {epochs: 1, train_limit: 64, test_limit: 32}\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "KERAS_BACKEND")}
    env["JAX_PLATFORMS"] = os.environ.get("JAX_PLATFORMS", "cpu")
    actbench = Path(sys.executable).with_name("actbench")
    proc = subprocess.run(
        [str(actbench), "run", str(config), "-o", str(tmp_path / "out")], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    for line in ("GPU will not be used", "oneDNN custom operations", "absl::InitializeLog"):
        assert line not in proc.stderr, proc.stderr
