"""diagnose(): can this machine run this config, and what to fix when it cannot.

The first step of a CI job on a new runner (`actbench doctor CONFIG`). Each check is one
Check row: the versions; whether the backend imports; the devices, and why a GPU that was
expected is not visible; the determinism settings, and whether the config's compiled
training step holds an op a GPU cannot run deterministically; each dataset present or
downloadable; the output dir writable. Nothing is trained or written.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from actbench import datasets
from actbench.config import Experiment
from actbench.errors import ActbenchError
from actbench.run.options import RunOptions, resolve
from actbench.training import backends

OK, INFO, WARN, FAIL = "ok", "info", "warn", "fail"


@dataclass
class Check:
    name: str
    status: str  # OK, INFO, WARN or FAIL; only FAIL makes the machine not ready
    detail: str
    fix: str = ""


@dataclass
class Diagnosis:
    config: str
    backend: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return not any(c.status == FAIL for c in self.checks)

    def as_dict(self) -> dict:
        return {"config": self.config, "backend": self.backend, "ready": self.ready, **asdict(self)}


def diagnose(exp: Experiment, config: str, output_dir: str | None = None, data_dir: str | None = None) -> Diagnosis:
    """Every check for running `exp` here (output_dir, data_dir: the run's overrides)."""
    adapter = backends.for_name(exp.backend)
    diagnosis = Diagnosis(config, exp.backend)
    add = diagnosis.checks.append
    versions = adapter.versions()
    add(Check("versions", INFO, ", ".join(f"{k} {v or 'not installed'}" for k, v in versions.items())))
    try:
        settings = adapter.configure(exp.training.deterministic)
    except ActbenchError as e:
        # tensorflow comes with actbench itself; jax is the `jax` extra
        install = "pip install -e '.[jax]'" if exp.backend == "jax" else "pip install -e ."
        add(Check("backend", FAIL, str(e), f"{install}, or choose another backend"))
        settings = None
    if settings is not None:
        add(Check("backend", OK, f"{exp.backend} imports; Keras runs on it"))
        add(_devices(adapter))
        add(_determinism(settings))
        user_code = _user_code(exp)
        if user_code is not None:
            add(user_code)
        if user_code is None or user_code.status != FAIL:
            add(_compiled_step(exp, adapter))
    options = resolve(exp, RunOptions(data_dir=data_dir, output_dir=output_dir))  # as `run` would
    policy = datasets.FetchPolicy(offline=options.offline, mirror=options.data_mirror)
    diagnosis.checks += [_dataset(name, options.data_dir, policy) for name in exp.datasets]
    add(_output(Path(options.output_dir)))
    return diagnosis


def _user_code(exp: Experiment) -> Check | None:
    """The config's custom activations and own networks, called once as `run` does before it
    writes anything; None when the config has neither."""
    from actbench.activations import is_custom
    from actbench.training import activation_check, model_check

    custom = [s.label for s in exp.activations if is_custom(s.name)]
    own = [a.label for a in exp.architectures if a.builder is not None or a.keras_model is not None]
    if not custom and not own:
        return None
    try:
        activation_check.check_behaviour(exp)
        model_check.check_user_models(exp)
    except ActbenchError as e:
        return Check(
            "user code", FAIL, str(e), "fix the function or model it names (`actbench validate` says the same)"
        )
    return Check("user code", OK, f"called once: {', '.join(custom + own)}")


def _devices(adapter) -> Check:
    devices = adapter.devices()
    found, host = devices[:-1], devices[-1]
    gpus = [d for d in found if backends.base.is_gpu(d)]
    expected = backends.base.gpu_expected(adapter)
    if gpus:
        return Check("devices", OK, f"GPU: {', '.join(gpus)} ({host})")
    if not expected:
        return Check("devices", OK, f"CPU only: {', '.join(found) or 'none listed'} ({host})")
    why, fix = _no_gpu_reason(adapter)
    return Check(
        "devices",
        FAIL,
        f"a GPU was expected ({expected}) but {adapter.name} sees only: {', '.join(found) or 'none'}; likely: {why}",
        fix,
    )


def _no_gpu_reason(adapter) -> tuple[str, str]:
    """(the likely reason no GPU is visible, what to do), from the driver and the install."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return "no NVIDIA driver (nvidia-smi not found)", "install the driver, or run on a runner that has a GPU"
    try:
        probe = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"nvidia-smi does not answer ({e})", "check the driver with nvidia-smi"
    if probe.returncode != 0 or "GPU" not in probe.stdout:
        said = (probe.stdout + probe.stderr).strip().splitlines()[:1]
        return f"nvidia-smi lists no GPU ({said[0] if said else 'no output'})", "check the driver with nvidia-smi"
    extra = {"jax": "jax-cuda", "tensorflow": "tf-cuda"}.get(adapter.name, "")
    missing = [p for p in adapter.gpu_packages if not backends.base.installed(p)]
    if missing:
        return (
            f"the CUDA build is not installed ({', '.join(missing)} missing: a CPU-only install)",
            f"pip install -e '.[{extra}]' (docs/gpu.md)",
        )
    return (
        "the driver sees a GPU and the CUDA packages are installed, yet the backend does not: "
        "CUDA_VISIBLE_DEVICES, or a driver older than the CUDA 12 wheels need",
        "compare `nvidia-smi` with the CUDA version the wheels need; check CUDA_VISIBLE_DEVICES",
    )


def _determinism(settings: dict) -> Check:
    shown = ", ".join(f"{k}={v}" for k, v in settings.items())
    if not settings.get("deterministic"):
        return Check("determinism", WARN, f"off ({shown}): reruns on a GPU may differ in the last digits")
    return Check("determinism", OK, shown)


def _compiled_step(exp: Experiment, adapter) -> Check:
    """Build each model of the grid (all activations, as the packed engine compiles them) and
    read its training step for ops a GPU cannot run deterministically."""
    from actbench.training.engine import compile_group
    from actbench.training.model import check_shape

    found: dict[str, str] = {}
    for name in exp.datasets:
        spec = datasets.spec_of(name)
        batch = min(exp.training.batch_size, 8)
        x = np.zeros((batch, *spec.input_shape), "float32")
        y = np.zeros((batch,), "int32")
        data = datasets.Prepared(name, x, y, x, y, x, y, spec.input_shape, spec.num_classes)
        for arch in exp.architectures:
            try:
                check_shape(arch, spec.input_shape)
            except ValueError as e:
                return Check("compiled step", FAIL, f"models[{arch.label}] on {name}: {e}")
            model, _ = compile_group(data, arch, exp.activation_specs, 0, exp.training_for(arch))
            ops = adapter.gpu_unsafe_ops(model, x, y, batch)
            if ops is None:
                return Check(
                    "compiled step",
                    OK,
                    f"{adapter.name} compiles no XLA program; op determinism makes each op deterministic "
                    "or stops the run at its first step",
                )
            found.update({op: f"{what} (model {arch.label})" for op, what in ops.items()})
    refused = {op: what for op, what in found.items() if "fails" in what}
    listed = "; ".join(f"{op}: {what}" for op, what in found.items())
    if refused and exp.training.deterministic:
        fix = "set `training: {deterministic: false}` for GPU runs, or report the layer that needs this op"
        return Check("compiled step", FAIL, f"not deterministic-safe on a GPU: {listed}", fix)
    if found:
        return Check("compiled step", OK, f"deterministic-safe on a GPU; note: {listed}")
    return Check("compiled step", OK, "deterministic-safe on a GPU: no scatter, no select-and-scatter")


def _dataset(name: str, data_dir: str | None, policy) -> Check:
    loc = datasets.locate(name, data_dir)
    if loc.available:
        return Check(f"dataset {name}", OK, f"present: {datasets.where_of(loc)}")
    if policy.offline:
        return Check(
            f"dataset {name}",
            FAIL,
            f"missing, and downloads are off ({policy.why_not()})",
            f"actbench datasets fetch {name} on a machine with network, or set data_dir",
        )
    problem = datasets.unreachable(name, policy)
    if problem:
        return Check(
            f"dataset {name}",
            FAIL,
            f"missing, and not downloadable from here: {problem}",
            f"actbench datasets fetch {name} elsewhere and copy the Keras cache, or set data_dir",
        )
    return Check(f"dataset {name}", OK, "missing here; downloadable (run downloads it, or `actbench datasets fetch`)")


def _output(out: Path) -> Check:
    from actbench.run.runner import check_writable

    try:
        check_writable(out)
    except ActbenchError as e:
        return Check("output dir", FAIL, str(e).removeprefix("output.dir: "), "choose another dir (--output)")
    return Check("output dir", OK, f"{out} is writable" + ("" if out.exists() else " (it will be created)"))
