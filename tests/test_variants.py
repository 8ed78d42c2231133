"""Labelled variants of model and training in one grid (`variants:`, `models[].training`), and fair
tuning (`tune: true`): per (dataset, activation) the variant with the best mean validation accuracy,
reported as model "tuned" next to the untuned comparisons."""

import numpy as np
import pandas as pd
import pytest
from fake_results import make_frames
from refusals import assert_refused
from tiny import load_tiny

from actbench import config
from actbench.analysis.stats import summarize
from actbench.config import Experiment
from actbench.run.runner import RunOptions, run_experiment

HEAD = "name: x\ndatasets: [mnist_sample]\nactivations: [relu, tanh]\n"


def grid(**fields) -> Experiment:
    return Experiment(name="x", datasets=["mnist_sample"], activations=["relu", "tanh"], **fields)


# ---------------------------------------------------------------- config


def test_variants_change_the_base_model_and_training():
    exp = grid(
        model={"conv_filters": [8, 8], "padding": "same", "norm": "batch"},
        training={"epochs": 3, "optimizer": {"learning_rate": 0.001, "clipnorm": 1.0}},
        variants=[
            {"label": "base"},
            {"label": "ln", "model": {"norm": "layer"}},
            {"label": "slow", "training": {"optimizer": {"learning_rate": 0.0001}, "epochs": 5}},
        ],
    )
    base, ln, slow = exp.architectures
    assert [m.label for m in exp.architectures] == ["base", "ln", "slow"]
    assert base.conv_filters == ln.conv_filters == slow.conv_filters == [8, 8]
    assert (base.norm, ln.norm, ln.batch_norm, slow.norm) == ("batch", "layer", False, "batch")
    assert exp.training_for(base) == exp.training
    t = exp.training_for(slow)
    assert (t.optimizer.learning_rate, t.optimizer.clipnorm, t.epochs, t.batch_size) == (0.0001, 1.0, 5, 32)
    assert exp.variants is None and exp.model is None  # folded into models


def test_variants_equal_the_models_they_stand_for_hash_included():
    variants = grid(
        model={"dense_units": [64]},
        variants=[{"label": "a"}, {"label": "b", "training": {"optimizer": {"learning_rate": 0.01}}}],
    )
    models = grid(
        models=[
            {"label": "a", "dense_units": [64]},
            {"label": "b", "dense_units": [64], "training": {"optimizer": {"learning_rate": 0.01}}},
        ]
    )
    assert variants == models and variants.config_hash() == models.config_hash()
    assert variants.with_overrides({"training.engine": "sequential"}).architectures == variants.architectures


def test_configs_without_variants_or_tune_keep_their_hash():
    plain = grid()
    explicit = grid(tune=False, models=[{"label": "reference", "training": None}])
    assert explicit.config_hash() == plain.config_hash()
    assert not {"variants", "tune"} & set(config.resolved_config(plain))


def test_description_is_kept_but_not_hashed():
    described = grid(description="Why this grid: a note for the report.")
    assert described.config_hash() == grid().config_hash()
    assert config.resolved_config(described)["description"] == "Why this grid: a note for the report."


def test_training_changes_change_the_hash():
    a = grid(models=[{"label": "m"}])
    b = grid(models=[{"label": "m", "training": {"epochs": 3}}])
    assert a.config_hash() != b.config_hash()


@pytest.mark.parametrize(
    "text, expected",
    [
        ("variants: [{label: a}, {label: a}]\n", ["duplicate model label(s) a"]),
        ("variants: []\n", ["variants", "at least 1"]),
        ("variants: [{label: 'a b'}]\n", ["variants[0].label", "letters, digits"]),
        ("variants: [{label: a, model: {norm: group}}]\n", ["line 4", "variants[0].model.norm", "group"]),
        ("variants: [{label: a, model: {labl: x}}]\n", ["unknown key 'labl'"]),
        ("variants: [{label: a, training: {validation_split: 0.5}}]\n", ["unknown key 'validation_split'"]),
        ("variants: [{label: a, training: {epochs: 0}}]\n", ["variants[0].training.epochs", "greater than 0"]),
        (
            "variants: [{label: a, training: {optimizer: {momentum: 0.9}}}]\n",
            ["variants[0] (a): training.optimizer: momentum applies to sgd and rmsprop only"],
        ),
        (
            "variants: [{label: a, model: {conv_filters: [0]}}]\n",
            ["variants[0] (a): conv_filters: every entry must be a positive integer"],
        ),
        (
            "variants: [{label: a, training: {optimizer: {global_clipnorm: 1.0}}}]\n",
            ["variants[0] (a): training", "global_clipnorm needs engine: sequential"],
        ),
        (
            "models: [{label: m, training: {optimizer: {clipnorm: 1, clipvalue: 1}}}]\n",
            ["models[0] (m): training.optimizer", "at most one of"],
        ),
        ("models: [{label: a}]\nvariants: [{label: b}]\n", ["either 'models' or 'variants'"]),
        ("variants: [{label: a}]\ntune: true\n", ["tune: true chooses among models or variants"]),
        (
            "variants: [{label: a}, {label: b}]\ntune: true\ntraining: {validation_split: 0.0}\n",
            ["set training.validation_split above 0"],
        ),
        ("variants: [{label: a}, {label: tuned}]\ntune: true\n", ["'tuned' labels the tuned comparison"]),
        ("tune: 1\n", ["tune", "valid boolean"]),
    ],
)
def test_bad_variants_are_refused_with_where(tmp_path, text, expected):
    assert_refused(tmp_path, HEAD + text, expected)


# ---------------------------------------------------------------- the variants train as configured


@pytest.mark.slow  # three tiny runs end to end
def test_a_variant_trains_like_the_config_it_stands_for(tmp_path):
    """The variant's learning rate and epochs reach the engine: its rows equal those of a plain
    config with those settings, under the variant's label; the base variant is unaffected."""
    small = {"seeds": [0], "activations": ["relu", "tanh"], "diagnostics": {"timing": False}}
    exp = load_tiny(
        tmp_path,
        "variants",
        variants=[
            {"label": "base"},
            {"label": "fast", "training": {"optimizer": {"learning_rate": 0.01}, "epochs": 3}},
        ],
        **small,
    )
    out = run_experiment(exp, RunOptions(command_line=["test"])).output_dir
    epochs = pd.read_csv(out / "epochs.csv")
    assert epochs.groupby("model")["epoch"].max().to_dict() == {"base": 2, "fast": 3}

    for label, training in (("base", {}), ("fast", {"optimizer": {"learning_rate": 0.01}, "epochs": 3})):
        plain = load_tiny(tmp_path, f"plain-{label}", training={**training}, **small)
        plain_out = run_experiment(plain, RunOptions(command_line=["test"])).output_dir
        expected = pd.read_csv(plain_out / "epochs.csv")
        mine = epochs[epochs["model"] == label]
        cols = ["loss", "accuracy", "val_loss", "val_accuracy"]
        np.testing.assert_array_equal(mine[cols].to_numpy(float), expected[cols].to_numpy(float))
    summary = pd.read_csv(out / "summary.csv")
    assert set(summary["model"]) == {"base", "fast"}  # no tuned rows without tune: true


# ---------------------------------------------------------------- tuning


def two_variants(val_shift: float = 0.05, test_shift: float = -0.05, diverged=()):
    """Variants 'a' and 'b' of relu and tanh: 'b' has val accuracy shifted by val_shift and test
    accuracy by test_shift against 'a' (so val and test disagree on which is better)."""
    runs_a, ep_a = make_frames(activations=("relu", "tanh"), model="a", rng_seed=1)
    runs_b, ep_b = make_frames(activations=("relu", "tanh"), model="b", rng_seed=2, diverged=diverged)
    runs_b["test_accuracy"] = runs_b["test_accuracy"] + test_shift
    ep_b["val_accuracy"] = ep_b["val_accuracy"] + val_shift
    return pd.concat([runs_a, runs_b], ignore_index=True), pd.concat([ep_a, ep_b], ignore_index=True)


def test_tuning_chooses_by_validation_accuracy_never_by_test():
    runs, epochs = two_variants(val_shift=0.05, test_shift=-0.05)
    s = summarize(runs, epochs, baseline="relu", tune=True)
    tuned = s[s["model"] == "tuned"].set_index("activation")
    assert tuned["tuned_choice"].to_dict() == {"relu": "b", "tanh": "b"}  # best val, worse test
    for act in ("relu", "tanh"):
        chosen = s[(s["model"] == "b") & (s["activation"] == act)].iloc[0]
        for col in ("n", "test_accuracy_mean", "test_accuracy_ci_low", "val_accuracy_mean", "test_loss_mean"):
            assert tuned.loc[act, col] == pytest.approx(chosen[col])
    assert tuned.loc["tanh", "verdict"] in ("better", "worse", "same") and tuned.loc["relu", "verdict"] == "baseline"
    assert list(s["model"]) == ["a", "a", "b", "b", "tuned", "tuned"]  # after the untuned comparisons
    assert (s.loc[s["model"] != "tuned", "tuned_choice"] == "").all()

    runs, epochs = two_variants(val_shift=-0.05, test_shift=+0.05)
    s = summarize(runs, epochs, tune=True)
    assert set(s.loc[s["model"] == "tuned", "tuned_choice"]) == {"a"}


def test_tuning_picks_per_activation_and_skips_variants_that_diverged():
    runs, epochs = two_variants(val_shift=0.05, diverged=[("tanh", 1)])
    s = summarize(runs, epochs, tune=True)
    tuned = s[s["model"] == "tuned"].set_index("activation")["tuned_choice"].to_dict()
    assert tuned == {"relu": "b", "tanh": "a"}  # b's tanh has a diverged seed


def test_val_accuracy_mean_is_the_last_epochs_validation_accuracy():
    runs, epochs = make_frames(activations=("relu",), seeds=(0, 1, 2), epochs=4)
    s = summarize(runs, epochs)
    last = epochs[epochs["epoch"] == 4]["val_accuracy"].mean()
    assert s.loc[0, "val_accuracy_mean"] == pytest.approx(last)
    assert "tuned" not in set(s["model"])


def test_tuned_comparison_in_terminal_and_report(tmp_path, capsys):
    from fake_results import metadata, write_dir

    from actbench.display.render import render_summary
    from actbench.report.markdown import write_report

    runs, epochs = two_variants()
    meta = metadata(("relu", "tanh"))
    meta["config"]["tune"] = True
    out = write_dir(tmp_path / "r", runs, epochs, meta)

    render_summary(summarize(runs, epochs, baseline="relu", tune=True))
    printed = capsys.readouterr().out
    assert "tuned (each activation with the model or variant" in printed and "relu @ b" in printed
    report = write_report(out)[0].read_text()
    assert "## mnist / tuned" in report and "tanh @ b" in report
    table = report[report.index("### Tuned vs untuned") :].splitlines()
    assert table[4] == "| activation | a | b |"
    s = summarize(runs, epochs, tune=True).set_index(["activation", "model"])
    relu_b = s.loc[("relu", "b")]
    chosen = f"**{100 * relu_b['val_accuracy_mean']:.2f} / {100 * relu_b['test_accuracy_mean']:.2f}**"
    assert next(line for line in table if line.startswith("| relu |")).endswith(f"| {chosen} |")
