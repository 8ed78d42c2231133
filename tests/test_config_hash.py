"""Every config field's place in the config hash is a decision written down here: hashed,
in the hash only when set (a field added after configs were first hashed: WHEN_SET), or
never hashed (config.experiment.NOT_HASHED). A new field fails here until it is decided."""

import pytest

from actbench import config
from actbench.config import specs
from actbench.config.experiment import NOT_HASHED

HASHED, WHEN_SET, NEVER = "hashed", "when set", "never"
DECISIONS = {
    "Experiment": {
        "name": HASHED,
        "datasets": HASHED,
        "activations": HASHED,
        "seeds": HASHED,
        "baseline": HASHED,
        "training": HASHED,
        "model": HASHED,
        "models": HASHED,
        "variants": WHEN_SET,
        "tune": WHEN_SET,
        "diagnostics": HASHED,
        "backend": HASHED,
        "data_dir": NEVER,
        "data_verify": NEVER,
        "output": NEVER,
        "description": NEVER,
    },
    "ActivationSpec": {"name": HASHED, "label": HASHED, "trainable": WHEN_SET, "shared": WHEN_SET},
    "TrainingSpec": {
        "optimizer": HASHED,
        "epochs": HASHED,
        "batch_size": HASHED,
        "validation_split": HASHED,
        "train_limit": HASHED,
        "test_limit": HASHED,
        "deterministic": HASHED,
        "engine": NEVER,
    },
    "OptimizerSpec": {
        "name": HASHED,
        "learning_rate": HASHED,
        "momentum": HASHED,
        "clipnorm": WHEN_SET,
        "clipvalue": WHEN_SET,
        "global_clipnorm": WHEN_SET,
    },
    "ModelSpec": {
        "label": HASHED,
        "conv_filters": HASHED,
        "kernel_size": HASHED,
        "pool_size": HASHED,
        "padding": HASHED,
        "dense_units": HASHED,
        "batch_norm": HASHED,
        "norm": WHEN_SET,
        "residual": WHEN_SET,
        "kernel_initializer": WHEN_SET,
        "dropout": HASHED,
        "training": WHEN_SET,
        "builder": WHEN_SET,
        "keras_model": WHEN_SET,
    },
    "VariantSpec": {"label": HASHED, "model": HASHED, "training": HASHED},  # folded into models
    "TrainingPatch": {"optimizer": HASHED, "epochs": HASHED, "batch_size": HASHED},  # the fields given
    "DiagnosticsSpec": {
        "gradients": HASHED,
        "dead_units": HASHED,
        "saturation": HASHED,
        "timing": HASHED,
        "probe_size": HASHED,
        "dead_threshold": HASHED,
        "saturation_margin": HASHED,
        "preactivations": WHEN_SET,
    },
    "OutputSpec": {"dir": NEVER},  # all of Experiment.output
}
MODELS = {
    "Experiment": config.Experiment,
    "ActivationSpec": specs.ActivationSpec,
    "TrainingSpec": specs.TrainingSpec,
    "OptimizerSpec": specs.OptimizerSpec,
    "ModelSpec": specs.ModelSpec,
    "VariantSpec": specs.VariantSpec,
    "TrainingPatch": specs.TrainingPatch,
    "DiagnosticsSpec": specs.DiagnosticsSpec,
    "OutputSpec": specs.OutputSpec,
}
NEVER_NESTED = {"TrainingSpec": NOT_HASHED["training"], "OutputSpec": {"dir"}}


def decision(model: str, field: str) -> str:
    if (model == "Experiment" and NOT_HASHED.get(field) is True) or field in NEVER_NESTED.get(model, ()):
        return NEVER
    info = MODELS[model].model_fields[field]
    return WHEN_SET if any(isinstance(m, specs.HashedWhenSet) for m in info.metadata) else HASHED


def test_every_config_model_is_listed():
    strict = {c.__name__ for c in specs.Strict.__subclasses__()} - {"Patch"}
    strict |= {c.__name__ for c in specs.Patch.__subclasses__() if c.__name__ == "TrainingPatch"}
    assert strict <= set(MODELS), f"config models without hash decisions: {sorted(strict - set(MODELS))}"


@pytest.mark.parametrize("model", sorted(MODELS))
def test_every_field_has_a_hash_decision(model):
    fields = set(MODELS[model].model_fields)
    assert fields == set(DECISIONS[model]), (
        f"{model}: decide for {sorted(fields - set(DECISIONS[model]))} whether they enter the config hash "
        "(new fields: WHEN_SET, so older configs keep their hash); drop gone ones "
        f"{sorted(set(DECISIONS[model]) - fields)}"
    )
    assert {f: decision(model, f) for f in fields} == DECISIONS[model]


BASE = {"name": "h", "datasets": ["mnist_sample"], "activations": ["relu"]}


@pytest.mark.parametrize(
    "changes",
    [
        {"tune": False},
        {"description": ""},
        {"description": "words for people"},
        {"model": {"residual": False, "kernel_initializer": "glorot_uniform", "norm": "none", "training": None}},
        {"training": {"optimizer": {"clipnorm": None, "clipvalue": None, "global_clipnorm": None}}},
    ],
)
def test_fields_in_the_hash_only_when_set_leave_it_alone_when_unset(changes):
    assert config.Experiment.model_validate({**BASE, **changes}).config_hash() == (
        config.Experiment.model_validate(BASE).config_hash()
    )


def test_a_field_set_enters_the_hash():
    base = config.Experiment.model_validate(BASE).config_hash()
    assert config.Experiment.model_validate({**BASE, "model": {"residual": True}}).config_hash() != base
    assert config.Experiment.model_validate({**BASE, "model": {"norm": "layer"}}).config_hash() != base
