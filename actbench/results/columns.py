"""The result files' columns: one table, and every list of them derived from it.

Each column says which file holds it, its kind, whether a reader refuses a file without it
(required), whether its value may be empty (empty_ok), whether it is one of the file's
fixed columns or stands for a family of diagnostic columns ("grad_norm/<layer>"), and what
it means: docs/result-files.md's column tables are generated from `doc` (column_table; a test
compares them). A column with an empty doc is documented in one row with the next one.
Adding a column is one entry here, plus the code that fills it. No pandas here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

File = Literal["runs", "epochs", "summary"]
Kind = Literal["text", "int", "float", "bool"]
Row = tuple[str, Kind, str, str]


@dataclass(frozen=True)
class Column:
    """One column of a result file (or, not fixed, a family of diagnostic columns)."""

    name: str
    file: File
    kind: Kind
    required: bool = False  # a file without it is refused (older files may lack the others)
    empty_ok: bool = False  # the value may be empty (no validation split, diverged, failed, ...)
    fixed: bool = True  # False: a family of diagnostic columns, named "<measure>/<layer>" or so
    doc: str = ""


# In file order; each file's fixed columns first, its diagnostic families after them.
# (name, kind, flags: "required", "empty_ok", or "diagnostic" for a family; doc)
# fmt: off
_RUNS: tuple[Row, ...] = (
    ("config_hash", "text", "required", "hash of the resolved config (see Config reference)"),
    ("dataset", "text", "required", "dataset name"),
    ("model", "text", "required", "model label (`reference` unless the config names models)"),
    ("activation", "text", "required", "activation label"),
    ("seed", "int", "required", "the run's seed"),
    ("activation_name", "text", "", "registry name (or `module:function`) behind the label"),
    ("params", "int", "empty_ok",
        "trainable + non-trainable parameter count of the model (693,962 for the reference model on 28x28x1)"),
    ("epochs_run", "int", "", "epochs trained (fewer than configured when the run diverged)"),
    ("test_loss", "float", "required empty_ok",
        "cross-entropy on the test split after the last epoch (empty when diverged)"),
    ("test_accuracy", "float", "required empty_ok",
        "accuracy on the test split, fraction 0..1 (empty when diverged)"),
    ("best_val_accuracy", "float", "empty_ok",
        "best validation accuracy over the epochs (empty without a validation split)"),
    ("best_epoch", "int", "empty_ok", "the epoch (1-based) of `best_val_accuracy`"),
    ("train_seconds", "float", "empty_ok", "training time: sum of `seconds` over the epochs"),
    ("seconds_per_epoch", "float", "empty_ok", "mean `seconds` per epoch"),
    ("timing", "text", "",
        "how time was measured: `in-run` (sequential engine: this run's own epochs, timed in the run; older "
        "files say `fit` for the same thing), `timing-pass` (packed engine: a separate short pass of this "
        "activation alone, see Engines), `shared` (packed with `diagnostics.timing: false`: the whole packed "
        "epoch)"),
    ("test_examples_per_second", "float", "empty_ok",
        "inference throughput: sequential engine, the timed test evaluation (at the training batch size); "
        "packed engine, the timing pass's inference over up to 2,048 test examples; empty with "
        "`diagnostics.timing: false`"),
    ("diverged", "bool", "required",
        "`true` when the training loss became NaN/inf or exceeded 1e6 (cross-entropy at chance is 2.3)"),
    ("diverged_epoch", "int", "empty_ok", "the epoch it happened (empty otherwise)"),
    ("at_chance", "bool", "",
        '`true` when the run never learned: test accuracy at most 2 points above chance (1/classes; see "Runs'
        ' at chance")'),
    ("failed", "bool", "",
        '`true` when training raised an error (see "Failed runs"); its numbers, `params` and `train_seconds` '
        "are empty"),
    ("failure", "text", "", "the error in one line (`Type: message`), empty otherwise"),
    ("engine", "text", "", "`packed` or `sequential`"),
    ("backend", "text", "", "Keras backend that ran it"),
    ("grad_ratio_min", "float", "diagnostic", ""),
    ("grad_ratio_max", "float", "diagnostic", "range over epochs of `grad_ratio` (see epochs.csv)"),
    ("dead_fraction/<layer>", "float", "diagnostic",
        "dead-unit fraction of that activated layer after the last epoch"),
    ("saturation/<layer>", "float", "diagnostic",
        "saturation of that activated layer after the last epoch (bounded activations only)"),
    ("param/<layer>/<parameter>", "float", "diagnostic",
        "a learned activation parameter after the last epoch (`trainable: true`, pau; see epochs.csv)"),
    ("param_std/<layer>/<parameter>", "float", "diagnostic",
        "its standard deviation over channels after the last epoch (`shared: channel`)"),
)
_EPOCHS: tuple[Row, ...] = (
    ("config_hash", "text", "required", ""),
    ("dataset", "text", "required", ""),
    ("model", "text", "required", ""),
    ("activation", "text", "required", ""),
    ("seed", "int", "required", "run keys"),
    ("epoch", "int", "required", "1-based epoch"),
    ("loss", "float", "required empty_ok", "mean training cross-entropy over the epoch's examples"),
    ("accuracy", "float", "required empty_ok", "training accuracy over the epoch"),
    ("val_loss", "float", "empty_ok", "validation cross-entropy after the epoch (empty without a validation split)"),
    ("val_accuracy", "float", "empty_ok", "validation accuracy after the epoch"),
    ("seconds", "float", "",
        "wall time of the epoch (training plus validation); for the packed engine, the timing-pass estimate "
        "for this activation alone"),
    ("grad_norm/<layer>", "float", "diagnostic",
        "L2 norm of the loss gradient for that layer's kernel (`conv1`, ..., `dense1`, ..., `output`) on the "
        "probe batch"),
    ("grad_ratio", "float", "diagnostic",
        "`grad_norm` of the first layer / `grad_norm` of the output layer: small values mean vanishing "
        "gradients"),
    ("dead_fraction/<layer>", "float", "diagnostic",
        "fraction of the layer's units (channels for conv layers) dead on the whole probe batch"),
    ("saturation/<layer>", "float", "diagnostic",
        "fraction of the layer's activation values within `saturation_margin` of a bound (sigmoid, tanh, "
        "hard_sigmoid, softsign; empty for unbounded functions)"),
    ("param/<layer>/<parameter>", "float", "diagnostic",
        "a learned activation parameter after the epoch (`trainable: true`, or an adaptive family such as "
        "pau: `param/conv1/beta`); with `shared: channel` its mean over the channels"),
    ("param_std/<layer>/<parameter>", "float", "diagnostic",
        "with `shared: channel`, the standard deviation of that parameter over the channels"),
    ("pre_mean/<layer>", "float", "diagnostic",
        "`diagnostics.preactivations: true`: mean of the values the layer's activation receives on the probe "
        "batch"),
    ("pre_std/<layer>", "float", "diagnostic", "their standard deviation"),
    ("pre_p<q>/<layer>", "float", "diagnostic",
        "their q-th percentile, q = 1, 5, 10, 20, ..., 90, 95, 99 (`pre_p50/conv1`: the median; the report "
        "draws the histogram from them)"),
)
_SUMMARY: tuple[Row, ...] = (
    ("dataset", "text", "", "Dataset name."),
    ("model", "text", "", "Model name."),
    ("activation", "text", "", "Activation label (as given in the config)."),
    ("tuned_choice", "text", "",
        "Rows of model 'tuned' only (config tune: true): the model or variant chosen for this dataset and "
        "activation, the one with the highest val_accuracy_mean (test accuracy is never used to choose); the "
        "row's statistics are that model's. Empty on every other row."),
    ("n", "int", "", "Number of finished, non-diverged runs (seeds) the statistics use."),
    ("n_diverged", "int", "", "Number of finished runs that diverged (excluded from all statistics)."),
    ("n_failed", "int", "",
        "Number of runs that failed with an error (failed in runs.csv; excluded from all statistics, retried "
        "by the next run into the same dir)."),
    ("n_at_chance", "int", "",
        "Number of the n runs whose test accuracy stayed at chance (at_chance in runs.csv); they are included"
        " in the mean, which then describes neither the runs that learned nor those that did not."),
    ("test_accuracy_mean", "float", "", "Mean test accuracy (fraction 0..1) over the non-diverged seeds."),
    ("test_accuracy_std", "float", "", "Sample standard deviation (ddof=1) of test accuracy; empty when n < 2."),
    ("test_accuracy_ci_low", "float", "",
        "Lower end of the 95% Student-t confidence interval of the mean test accuracy; empty when n < 2."),
    ("test_accuracy_ci_high", "float", "",
        "Upper end of the 95% Student-t confidence interval of the mean test accuracy; empty when n < 2."),
    ("test_loss_mean", "float", "", "Mean test loss over the non-diverged seeds."),
    ("test_loss_std", "float", "", "Sample standard deviation (ddof=1) of test loss; empty when n < 2."),
    ("test_loss_ci_low", "float", "",
        "Lower end of the 95% confidence interval of the mean test loss; empty when n < 2."),
    ("test_loss_ci_high", "float", "",
        "Upper end of the 95% confidence interval of the mean test loss; empty when n < 2."),
    ("val_accuracy_mean", "float", "",
        "Mean over the non-diverged seeds of the validation accuracy after the last epoch (what tune: true "
        "chooses by); empty without a validation split."),
    ("rank", "int", "",
        "1 + number of activations (same dataset and model) that clearly beat this one: whose 95% CI lies "
        "entirely above this one's, or, when either side has n < 2, whose mean accuracy is higher. "
        "Overlapping CIs share a rank; activations with no usable run rank last."),
    ("best", "bool", "", "true when rank == 1."),
    ("baseline", "text", "",
        "The baseline activation this row is compared with; empty when no baseline is set or it is not in "
        "this dataset and model."),
    ("diff_vs_baseline", "float", "",
        "test_accuracy_mean minus the baseline's test_accuracy_mean (fraction; 0.01 = 1 point)."),
    ("test", "text", "",
        "Which test gave p_value: 'paired' (paired t-test over the seeds both finished, when there are at "
        "least 2), 'welch' (Welch's t-test), empty when no test is possible."),
    ("p_value", "float", "",
        "Two-sided p-value of test accuracy vs the baseline (see test); empty for the baseline itself or when"
        " no test is possible."),
    ("p_holm", "float", "",
        "p_value after Holm's correction across the non-baseline activations of the same dataset and model."),
    ("min_detectable_drop", "float", "",
        "Smallest difference from the baseline (fraction) this test would detect with 80% power at alpha 0.05"
        " Holm-corrected (alpha/m for m tests), from the observed spread and n."),
    ("verdict", "text", "",
        "'baseline' for the baseline row; 'better' / 'worse' when p_holm < alpha (by the sign of "
        "diff_vs_baseline); 'same' otherwise; empty when no test is possible (no baseline, or n < 2 on either"
        " side)."),
    ("curve_metric", "text", "",
        "Which per-epoch curve epochs_to_99pct and curve_mean use: 'val_accuracy', or 'accuracy' (training) "
        "when there is no validation split."),
    ("epochs_to_99pct", "float", "",
        "Mean over seeds of the first epoch (1-based) at which the run's curve_metric reaches 99% of that "
        "run's best curve_metric value."),
    ("curve_mean", "float", "",
        "Mean over seeds of the run's mean curve_metric over its epochs: the normalised area under the curve "
        "(1.0 = perfect from the first epoch). Rewards fast and stable learning."),
    ("seconds_per_epoch_mean", "float", "", "Mean seconds per training epoch over the non-diverged seeds."),
    ("train_seconds_mean", "float", "", "Mean total training seconds over the non-diverged seeds."),
    ("<diagnostic>_mean", "float", "diagnostic",
        "For every numeric diagnostic column of runs.csv (e.g. dead_fraction/conv1, grad_ratio_min): its mean"
        " over the non-diverged seeds."),
)
# fmt: on


def _columns(file: File, rows: tuple[Row, ...]) -> list[Column]:
    return [
        Column(name, file, kind, "required" in f, "empty_ok" in f, "diagnostic" not in f, doc)
        for name, kind, f, doc in rows
    ]


COLUMNS: tuple[Column, ...] = (*_columns("runs", _RUNS), *_columns("epochs", _EPOCHS), *_columns("summary", _SUMMARY))


def of(file: File, fixed: bool = True) -> list[Column]:
    return [c for c in COLUMNS if c.file == file and c.fixed == fixed]


def names(file: File, kinds: tuple[Kind, ...] = ("text", "int", "float", "bool"), required: bool = False) -> list[str]:
    """The fixed columns of file, in file order, of these kinds (only the required ones if asked)."""
    return [c.name for c in of(file) if c.kind in kinds and (c.required or not required)]


def column_table(file: File) -> str:
    """The markdown table of file's columns, as docs/result-files.md shows it."""
    lines = ["| column | meaning |", "|---|---|"]
    group: list[str] = []
    for c in [*of(file), *of(file, fixed=False)]:
        group.append(f"`{c.name}`")
        if c.doc:
            lines.append(f"| {', '.join(group)} | {c.doc} |")
            group = []
    return "\n".join(lines)
