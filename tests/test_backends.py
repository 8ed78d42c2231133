"""The backend registry and the adapters' device notes (no Keras imported here)."""

import re
import typing
from pathlib import Path

import pytest

from actbench.config import Experiment
from actbench.training import backends
from actbench.training.backends.base import EXPECT_GPU_ENV

PACKAGE = Path(backends.__file__).parent.parent


def test_registry_matches_the_config_choices():
    allowed = typing.get_args(Experiment.model_fields["backend"].annotation)
    assert tuple(allowed) == backends.NAMES == ("tensorflow", "jax")
    for name in backends.NAMES:
        assert backends.for_name(name).name == name


def test_no_backend_branches_outside_the_adapters():
    branch = re.compile(r"""backend(\(\))?\s*[!=]=\s*["'](tensorflow|jax|torch)["']""")
    offenders = [
        str(p.relative_to(PACKAGE))
        for p in PACKAGE.rglob("*.py")
        if "backends" not in p.parts and branch.search(p.read_text())
    ]
    assert offenders == []


@pytest.mark.parametrize("name", backends.NAMES)
def test_warns_when_a_gpu_is_expected_but_only_the_cpu_is_seen(name, monkeypatch):
    adapter = backends.for_name(name)
    cpu_only = ["CPU:/physical_device:CPU:0", "host: x86_64 2 cpus"]
    monkeypatch.delenv(EXPECT_GPU_ENV, raising=False)
    notes = adapter.device_notes(cpu_only)
    assert notes == [f"{name} devices: CPU:/physical_device:CPU:0"]  # no GPU extra installed here
    monkeypatch.setenv(EXPECT_GPU_ENV, "1")
    notes = adapter.device_notes(cpu_only)
    assert len(notes) == 2 and notes[1].startswith("WARNING: a GPU was expected") and EXPECT_GPU_ENV in notes[1]
    assert adapter.device_notes(["cuda:0", "host: x86_64 16 cpus"]) == [f"{name} devices: cuda:0"]


@pytest.mark.parametrize("name", backends.NAMES)
def test_a_missing_deterministic_kernel_is_one_clear_message(name):
    adapter = backends.for_name(name)
    error = RuntimeError(
        "Traceback lines...\nA deterministic GPU implementation of SparseSoftmaxXentWithLogitsOp "
        "is not currently available.\nmore"
    )
    message = adapter.determinism_problem(error)
    assert message is not None and "SparseSoftmaxXentWithLogitsOp" in message
    assert "deterministic: false" in message and "Traceback" not in message
    assert adapter.determinism_problem(ValueError("operands could not be broadcast together")) is None
