"""What every backend adapter shares: selecting the backend before Keras is imported,
recording versions and devices. Subclasses fill in the backend-specific parts.

KERAS_BACKEND must be set before Keras is first imported, so configure() runs before
anything touches keras.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import platform
import sys
import tempfile

from actbench.errors import ConfigError

# Set to 1 where a run must train on a GPU (a CI GPU runner): `run` then warns when none is visible.
EXPECT_GPU_ENV = "ACTBENCH_EXPECT_GPU"


class Backend:
    """The adapter interface; one subclass per backend (see backends/__init__.py)."""

    name = ""  # the value of the config's `backend` and of KERAS_BACKEND
    package = ""  # the library Keras runs on (import name and pip name)
    gpu_packages: tuple[str, ...] = ()  # distributions installed only by this backend's GPU extra

    def configure(self, deterministic: bool) -> dict:
        """Select this backend and, when asked, its deterministic ops. Returns the settings used."""
        already = sys.modules.get("keras")
        if already is not None and already.backend.backend() != self.name:
            raise ConfigError(
                f"backend: this process already runs Keras on {already.backend.backend()}; "
                f"start a new process to use {self.name}."
            )
        # TensorFlow's C++ logging reads this at import; level 3 hides its start-up chatter.
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        try:
            import_quietly(self.package)
        except ImportError:
            raise ConfigError(
                f"backend: '{self.name}' is not installed in this environment "
                f"(pip install {self.package}), or choose another backend."
            ) from None
        os.environ["KERAS_BACKEND"] = self.name
        settings = {"deterministic": deterministic, **self.determinism(deterministic)}
        import keras  # noqa: F401  (now bound to the chosen backend)

        return settings

    def determinism(self, deterministic: bool) -> dict:
        """Backend-specific settings, applied after the library's import and before Keras'."""
        return {}

    def versions(self) -> dict[str, str | None]:
        out: dict[str, str | None] = {"python": platform.python_version()}
        for package in ["actbench", "keras", self.package, "numpy", "pandas"]:
            try:
                out[package] = importlib.metadata.version(package)
            except importlib.metadata.PackageNotFoundError:
                out[package] = None
        return out

    def devices(self) -> list[str]:
        """The accelerators the backend sees (informational), then the host."""
        try:
            found = self.list_devices()
        except Exception as e:  # device listing is informational only
            found = [f"unknown ({type(e).__name__})"]
        return found + [f"host: {platform.machine()} {platform.processor() or ''} {os.cpu_count()} cpus".strip()]

    def list_devices(self) -> list[str]:
        raise NotImplementedError

    def device_notes(self, devices: list[str]) -> list[str]:
        """What `run` prints about devices: where it trains, and a warning when a GPU was
        expected (the GPU extra is installed, or ACTBENCH_EXPECT_GPU=1) but none is visible."""
        found = devices[:-1]  # the last entry is the host
        notes = [f"{self.name} devices: {', '.join(found) or 'none listed'}"]
        why = gpu_expected(self)
        if why and not any(is_gpu(d) for d in found):
            notes.append(
                f"WARNING: a GPU was expected ({why}) but {self.name} sees only the CPU, so training "
                "runs on the CPU. Check the driver (nvidia-smi) and the install (docs/gpu.md); "
                "`actbench doctor` names the likely cause."
            )
        return notes

    def loop(self, model):
        """The object that trains and evaluates the compiled `model`: train_epoch(x, y,
        batch_size, order=None, validation=None) -> metrics (one epoch over x[order],
        y[order]; the engine passes the same arrays every epoch, so a loop may keep them on
        the device) and evaluate(x, y, batch_size) -> metrics, named as model.fit's history
        and model.evaluate(return_dict=True) name them; warm_up(x, y, batch_size, training)
        traces or compiles, so that a timed call on such arrays measures running only."""
        raise NotImplementedError

    def max_pooling_2d(self, pool_size: int, padding: str, name: str):
        """The max-pooling layer actbench's models are built with on this backend: Keras' own."""
        from keras import layers

        return layers.MaxPooling2D(pool_size, padding=padding, name=name)

    def swap_user_layers(self, model) -> list[str]:
        """Swap, in place, the layers of a user's model (a builder's or a saved one) that this
        backend builds as actbench's own models build them; the names of those swapped. Keras' own."""
        return []

    def gpu_unsafe_ops(self, model, x, y, batch_size: int) -> dict[str, str] | None:
        """The ops of `model`'s compiled training step that a GPU cannot run deterministically
        (op -> what happens to it under deterministic ops); None where the backend compiles no
        program to read (TensorFlow: each op is made deterministic, or raises, when it runs)."""
        return None

    def determinism_problem(self, error: BaseException) -> str | None:
        """One clear message when `error` says a deterministic op is not available on this
        device (what deterministic: true asked for); None for any other error."""
        text = str(error)
        if not isinstance(error, Exception) or "determinis" not in text.lower():
            return None
        detail = next((line.strip() for line in text.splitlines() if "determinis" in line.lower()), text)
        return (
            f"training.deterministic: {self.name} has no deterministic implementation of an op this "
            f"model uses on this device ({detail}). Set `training: {{deterministic: false}}` in the config "
            "(reruns may then differ in the last digits), or run on the CPU."
        )

    def kernel_gradients(self, probe, kernels, x, loss_of_outputs):
        """probe's outputs on x (inference mode) and d loss_of_outputs(outputs) / d kernel
        for each kernel variable, with the backend's own autodiff."""
        raise NotImplementedError

    def elementwise_grad(self, layer, z):
        """f'(z) for an activation layer, elementwise, by autodiff of sum(f(z))."""
        raise NotImplementedError

    compiled_by = ""  # how the backend compiles a training step, for messages ("tf.function")

    def compiled_value_and_grad(self, fn):
        """x -> (fn(x), d sum(fn(x)) / dx), compiled the way the backend compiles a training
        step: the custom-activation check calls user functions through it before training."""
        raise NotImplementedError


def gpu_expected(adapter: Backend) -> str:
    """Why a GPU should be visible to `adapter` (ACTBENCH_EXPECT_GPU=1, or its GPU extra is
    installed), or "" when nothing says so."""
    if os.environ.get(EXPECT_GPU_ENV, "0") not in ("", "0"):
        return f"{EXPECT_GPU_ENV} is set"
    installed_gpu = [p for p in adapter.gpu_packages if installed(p)]
    return f"{installed_gpu[0]} is installed" if installed_gpu else ""


def installed(distribution: str) -> bool:
    try:
        importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def is_gpu(device: str) -> bool:
    # TensorFlow lists "GPU:/physical_device:GPU:0", JAX "cuda:0" or "CudaDevice(id=0)".
    return any(word in device.lower() for word in ("gpu", "cuda", "rocm"))


def import_quietly(package: str) -> None:
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


class DeviceCopies:
    """Host arrays copied to the device once while a training loop lives: copies(array) -> the
    device copy made by `put` (jax.device_put, tf.constant), looked up by the host array."""

    def __init__(self, put):
        self._put = put
        self._copies: dict[int, tuple] = {}  # id(host array) -> (host array, device copy)

    def __call__(self, array):
        key = id(array)
        if key not in self._copies:
            # The host array is kept too, so its id cannot be reused by another array.
            self._copies[key] = (array, self._put(array))
        return self._copies[key][1]
