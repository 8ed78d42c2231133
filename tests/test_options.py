"""Run options resolve once: flag > environment > config > default, each with its source."""

import pytest

from actbench import config
from actbench.run.options import RunOptions, resolve

BASE = {"name": "opts", "datasets": ["mnist_sample"], "activations": ["relu"]}


def exp(**changes):
    return config.Experiment.model_validate({**BASE, **changes})


def test_defaults():
    r = resolve(exp(), RunOptions(), environ={})
    assert (r.output_dir, r.engine, r.data_dir, r.verify_data, r.offline, r.data_mirror) == (
        "results/opts",
        "packed",
        None,
        True,
        False,
        None,
    )
    assert r.source["output_dir"] == "default" and r.source["offline"] == "default"


@pytest.mark.parametrize(
    "flag, env, cfg, expected, source",
    [
        ("/flag", "/env", "/cfg", "/flag", "flag"),
        (None, "/env", "/cfg", "/env", "env"),
        (None, None, "/cfg", "/cfg", "config"),
        (None, "", None, None, "default"),
    ],
)
def test_data_dir_flag_then_environment_then_config(flag, env, cfg, expected, source):
    environ = {} if env is None else {"ACTBENCH_DATA_DIR": env}
    r = resolve(exp(data_dir=cfg), RunOptions(data_dir=flag), environ=environ)
    assert (r.data_dir, r.source["data_dir"]) == (expected, source)


def test_offline_and_mirror_from_the_environment_unless_flagged():
    environ = {"ACTBENCH_OFFLINE": "1", "ACTBENCH_DATA_MIRROR": "https://m.example/"}
    r = resolve(exp(), RunOptions(), environ=environ)
    assert (r.offline, r.data_mirror, r.source["offline"]) == (True, "https://m.example/", "env")
    r = resolve(exp(), RunOptions(offline=False, data_mirror="file:///x"), environ=environ)
    assert (r.offline, r.data_mirror, r.source["data_mirror"]) == (False, "file:///x", "flag")
    assert resolve(exp(), RunOptions(), environ={"ACTBENCH_OFFLINE": "off"}).offline is False


def test_config_values_and_flags_for_the_rest():
    e = exp(output={"dir": "out/x"}, data_verify=False, training={"engine": "sequential"})
    r = resolve(e, RunOptions(), environ={})
    assert (r.output_dir, r.verify_data, r.engine) == ("out/x", False, "sequential")
    assert set(r.source.values()) <= {"config", "default"}
    r = resolve(e, RunOptions(output_dir="o", verify_data=True, engine="packed"), environ={})
    assert (r.output_dir, r.verify_data, r.engine) == ("o", True, "packed")
    assert r.as_metadata()["source"]["engine"] == "flag"
