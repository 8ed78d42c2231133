"""How numbers and verdicts are written for people: one place for render, compare and report.

Accuracies are fractions in the files and percentages / percentage points on screen.
Missing values (NaN, None) print as an en dash. No terminal markup here (render adds
colour on top of these labels).
"""

from __future__ import annotations

import math

from actbench.results.keys import TUNED_MODEL

MISSING = "–"

# The words for a verdict, wherever one is shown.
VERDICT_LABELS = {
    "better": "▲ better",
    "worse": "▼ worse",
    "same": "= same",
    "identical": "≡ identical",
    "baseline": "baseline",
    "": "",
}
REGRESSION_LABEL = "✖ REGRESSION"


def _missing(x) -> bool:
    try:
        return x is None or not math.isfinite(float(x))
    except (TypeError, ValueError):
        return True


def percent(x) -> str:
    """A fraction as a percentage with two decimals: 0.9123 -> '91.23'."""
    return MISSING if _missing(x) else f"{100 * float(x):.2f}"


def points(x) -> str:
    """A difference of fractions in signed percentage points: -0.005 -> '-0.50'."""
    return MISSING if _missing(x) else f"{100 * float(x):+.2f}"


def interval(low, high) -> str:
    """A CI of a difference in signed points: '[-1.20, +0.30]'."""
    if _missing(low) or _missing(high):
        return MISSING
    return f"[{points(low)}, {points(high)}]"


def pvalue(p) -> str:
    """Three significant digits; below 0.001 as '<0.001'."""
    if _missing(p):
        return MISSING
    return f"{float(p):.3g}" if float(p) >= 0.001 else "<0.001"


def significant(x) -> str:
    """Three significant digits: 0.000547 -> '0.000547', 1234.5 -> '1.23e+03'."""
    return MISSING if _missing(x) else f"{float(x):.3g}"


def compact(x) -> str:
    """Up to three decimals without trailing zeros; very large or small values in 3 significant digits."""
    if _missing(x):
        return MISSING
    ax = abs(float(x))
    if ax >= 1000 or (ax < 0.01 and ax != 0):
        return f"{float(x):.3g}"
    return f"{float(x):.3f}".rstrip("0").rstrip(".") or "0"


def verdict_label(verdict: str, regression: bool = False) -> str:
    """The words for a verdict; a regression overrides it."""
    if regression:
        return REGRESSION_LABEL
    return VERDICT_LABELS.get(verdict or "", str(verdict))


def mean_with_n(mean, n, n_at_chance=0) -> str:
    """A mean accuracy with its n, and how many of the n runs stayed at chance:
    '91.00 (3)', '10.77 (2, 2 at chance)'."""
    at_chance = f", {int(n_at_chance)} at chance" if n_at_chance else ""
    return f"{percent(mean)} ({int(n)}{at_chance})"


def duration(seconds: float) -> str:
    """A time span for people: '45 s', '12 min', '3.5 h'."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def model_title(model: str) -> str:
    """A summary table's model as a title; the tuned comparison says what it is."""
    if model == TUNED_MODEL:
        return f"{model} (each activation with the model or variant of its best mean validation accuracy)"
    return model


def activation_name(row) -> str:
    """A summary row's activation, with the model tune chose for it (tuned rows only)."""
    choice = row.get("tuned_choice")
    return f"{row['activation']} @ {choice}" if isinstance(choice, str) and choice else str(row["activation"])
