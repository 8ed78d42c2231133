"""Choosing and configuring the Keras backend, and recording what software ran.

KERAS_BACKEND must be set before Keras is first imported, so configure() runs before
anything touches keras.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys
import tempfile

from .errors import ConfigError

BACKEND_PACKAGES = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}


def configure(backend: str, deterministic: bool) -> dict:
    """Select the backend and, when asked, its deterministic ops. Returns the settings used."""
    already = sys.modules.get("keras")
    if already is not None and already.backend.backend() != backend:
        raise ConfigError(f"backend: this process already runs Keras on {already.backend.backend()}; "
                          f"start a new process to use {backend}.")
    # TensorFlow's C++ logging reads this at import; level 3 hides its start-up chatter.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        _import_quietly(BACKEND_PACKAGES[backend])
    except ImportError:
        raise ConfigError(f"backend: '{backend}' is not installed in this environment "
                          f"(pip install {BACKEND_PACKAGES[backend]}), or choose another backend.") from None
    os.environ["KERAS_BACKEND"] = backend
    settings = {"deterministic": deterministic}
    if backend == "tensorflow":
        import tensorflow as tf
        # Every model of the packed engine's timing pass traces its own functions, by
        # design; TensorFlow's Python logger would warn about "retracing" each time.
        tf.get_logger().setLevel("ERROR")
        if deterministic:
            # Deterministic kernels; XLA auto-jit is left off (it conflicts with op
            # determinism for max-pool gradients on GPU).
            tf.config.experimental.enable_op_determinism()
            tf.config.optimizer.set_jit(False)
            settings["tf_op_determinism"] = True
            # oneDNN splits work by the intra-op thread count, so the last bits of every
            # result depend on the machine's core count unless it is fixed. One thread per
            # op, towers of a packed model in parallel (inter-op) on all cores.
            try:
                tf.config.threading.set_intra_op_parallelism_threads(1)
                tf.config.threading.set_inter_op_parallelism_threads(os.cpu_count() or 1)
            except RuntimeError:
                pass  # TensorFlow already ran in this process (a library caller): keep its threads
            settings["tf_threads"] = {"intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
                                      "inter_op": tf.config.threading.get_inter_op_parallelism_threads()}
    elif backend == "jax" and deterministic:
        flags = os.environ.get("XLA_FLAGS", "")
        if "xla_gpu_deterministic_ops" not in flags:
            os.environ["XLA_FLAGS"] = (flags + " --xla_gpu_deterministic_ops=true").strip()
        settings["xla_flags"] = os.environ["XLA_FLAGS"]
    elif backend == "torch" and deterministic:
        import torch
        torch.use_deterministic_algorithms(True, warn_only=True)
        settings["torch_deterministic_algorithms"] = True
    import keras  # noqa: F401  (now bound to the chosen backend)
    return settings


def _import_quietly(package: str) -> None:
    """Import package with what its C++ side writes to stderr meanwhile held back:
    TensorFlow's absl logging prints INFO lines ("oneDNN custom operations are on", "Could
    not find cuda drivers") before TF_CPP_MIN_LOG_LEVEL applies. Replayed if the import fails."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            importlib.import_module(package)
        except BaseException:
            os.dup2(saved, 2)
            held.seek(0)
            sys.stderr.write(held.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def versions(backend: str) -> dict:
    out = {"python": platform.python_version()}
    for package in ["actbench", "keras", BACKEND_PACKAGES[backend], "numpy", "pandas"]:
        try:
            out[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            out[package] = None
    return out


def devices(backend: str) -> list[str]:
    try:
        if backend == "tensorflow":
            import tensorflow as tf
            found = [f"{d.device_type}:{d.name}" for d in tf.config.list_physical_devices()]
        elif backend == "jax":
            import jax
            found = [str(d) for d in jax.devices()]
        else:
            import torch
            found = ["cuda:" + torch.cuda.get_device_name(0)] if torch.cuda.is_available() else ["cpu"]
    except Exception as e:  # device listing is informational only
        found = [f"unknown ({type(e).__name__})"]
    return found + [f"host: {platform.machine()} {platform.processor() or ''} {os.cpu_count()} cpus".strip()]
