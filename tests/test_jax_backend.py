"""The JAX adapter in CI: tests/jax_backend/ in one separate process with KERAS_BACKEND=jax.

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
