"""`actbench doctor` on TensorFlow (this process's backend): ready on this machine, and each
check that can fail here fails with its reason and its fix (exit 1). The JAX side, where the
compiled step is read for select-and-scatter, is in tests/jax_backend/pooling_checks.py."""

import json

from rich.console import Console
from tiny import tiny_config, tiny_config_with_model
from typer.testing import CliRunner

from actbench.cli import app
from actbench.display import render

runner = CliRunner()


def doctor(*args, env=None):
    result = runner.invoke(app, ["doctor", *args, "--format", "json"], env=env)
    return result.exit_code, json.loads(result.stdout) if result.stdout.strip().startswith("{") else result.output


def checks(report) -> dict:
    return {c["name"]: c for c in report["checks"]}


def test_ready_with_a_config(tmp_path):
    code, report = doctor(str(tiny_config(tmp_path)), env={"ACTBENCH_EXPECT_GPU": "0"})
    assert code == 0 and report["ready"] and report["backend"] == "tensorflow"
    found = checks(report)
    expected = ["versions", "backend", "devices", "determinism", "compiled step", "dataset mnist_sample", "output dir"]
    assert list(found) == expected
    assert "keras" in found["versions"]["detail"] and "CPU" in found["devices"]["detail"]
    assert "tf_op_determinism=True" in found["determinism"]["detail"]
    assert "no XLA" in found["compiled step"]["detail"]
    assert all(c["status"] in ("ok", "info") for c in report["checks"])


def test_without_a_config_checks_the_reference_model_and_renders_a_table(monkeypatch):
    monkeypatch.setattr(render, "console", Console(width=80))  # an 80-column terminal
    result = runner.invoke(app, ["doctor"], env={"ACTBENCH_EXPECT_GPU": "0"})
    assert result.exit_code == 0, result.output
    assert "ready: this machine can run the config." in result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80


def test_an_expected_gpu_that_is_not_there_fails_with_the_likely_reason(tmp_path):
    code, report = doctor(str(tiny_config(tmp_path)), env={"ACTBENCH_EXPECT_GPU": "1", "PATH": str(tmp_path)})
    devices = checks(report)["devices"]
    assert code == 1 and not report["ready"] and devices["status"] == "fail"
    assert "ACTBENCH_EXPECT_GPU is set" in devices["detail"] and "nvidia-smi not found" in devices["detail"]
    assert devices["fix"]


def test_a_missing_dataset_offline_and_an_unwritable_output_fail(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))  # an empty Keras cache
    blocker = tmp_path / "a-file"
    blocker.write_text("not a dir")
    config = tiny_config(tmp_path, datasets=["cifar10"], output={"dir": str(blocker / "out")})
    code, report = doctor(str(config), "--data-dir", str(tmp_path / "nothing"), env={"ACTBENCH_OFFLINE": "1"})
    found = checks(report)
    assert code == 1
    assert found["dataset cifar10"]["status"] == "fail" and "offline" in found["dataset cifar10"]["detail"]
    assert found["output dir"]["status"] == "fail" and "a-file" in found["output dir"]["detail"]
    assert found["compiled step"]["status"] == "ok"  # shapes come from the registry, not the files


def test_a_bad_config_is_a_user_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ndatasets: [mnist_sample]\nactivations: [relu]\nbackend: torch\n")
    result = runner.invoke(app, ["doctor", str(bad)])
    assert result.exit_code == 2 and "backend" in result.output and "Traceback" not in result.output


def test_a_broken_builder_fails_the_user_code_check_and_a_good_one_passes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # builders are found beside the config or in the working directory
    (tmp_path / "nets.py").write_text(
        "import keras\nfrom keras import layers\n\n"
        "def good(act, input_shape, num_classes):\n"
        "    x = keras.Input(input_shape)\n"
        "    return keras.Model(x, layers.Dense(num_classes, activation='softmax')(act()(layers.Flatten()(x))))\n\n"
        "def broken(act, input_shape, num_classes):\n"
        "    raise RuntimeError('no network today')\n"
    )
    for function, code, status in [("good", 0, "ok"), ("broken", 1, "fail")]:
        path = tiny_config_with_model(tmp_path, {"label": "mine", "builder": f"nets:{function}"}, function)
        exit_code, report = doctor(str(path), env={"ACTBENCH_EXPECT_GPU": "0"})
        found = checks(report)
        assert exit_code == code and found["user code"]["status"] == status, found["user code"]
    assert "no network today" in found["user code"]["detail"] and "compiled step" not in found
