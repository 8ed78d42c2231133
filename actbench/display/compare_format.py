"""A Comparison written out: markdown (for $GITHUB_STEP_SUMMARY), csv or json."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING

import numpy as np

from actbench.errors import ResultsError

from . import numbers as fmt_

if TYPE_CHECKING:
    from actbench.analysis.compare import Comparison

FORMATS = ("markdown", "csv", "json")


def format_comparison(cmp: Comparison, fmt: str = "markdown") -> str:
    """Render a Comparison as 'markdown' (for $GITHUB_STEP_SUMMARY), 'csv' or 'json'."""
    if fmt == "csv":
        return cmp.rows.to_csv(index=False, float_format="%.10g", lineterminator="\n")
    if fmt == "json":
        records = [{k: _jsonable(v) for k, v in r.items()} for r in cmp.rows.to_dict(orient="records")]
        return (
            json.dumps(
                {
                    "regressed": bool(cmp.regressed),
                    "identical": cmp.identical,
                    "max_drop": cmp.max_drop,
                    "alpha": cmp.alpha,
                    "holm_rows": cmp.n_tested,
                    "base": cmp.base_source,
                    "candidate": cmp.cand_source,
                    "warnings": list(cmp.warnings),
                    "rows": records,
                },
                indent=2,
                allow_nan=False,
            )
            + "\n"
        )
    if fmt != "markdown":
        raise ResultsError(f"Unknown comparison format '{fmt}'; use one of: {', '.join(FORMATS)}.")
    lines = [
        "### actbench comparison",
        "",
        f"Base: `{cmp.base_source}` · Candidate: `{cmp.cand_source}`",
        "",
        headline(cmp),
        "",
        "| dataset | model | activation | base acc (n) | candidate acc (n) | diff (points) | 95% CI of diff "
        "| test | p (Holm) | detectable drop | verdict |",
        "|---|---|---|---:|---:|---:|---:|---|---:|---:|---|",
    ]
    for r in cmp.rows.itertuples(index=False):
        lines.append(
            f"| {r.dataset} | {r.model} | {r.activation} | "
            f"{fmt_.mean_with_n(r.base_mean, r.base_n, r.base_at_chance)} | "
            f"{fmt_.mean_with_n(r.cand_mean, r.cand_n, r.cand_at_chance)} | {fmt_.points(r.diff)} | "
            f"{fmt_.interval(r.diff_ci_low, r.diff_ci_high)} | {r.test or fmt_.MISSING} | "
            f"{fmt_.pvalue(r.p_holm)} | {fmt_.percent(r.min_detectable_drop)} | "
            f"{fmt_.verdict_label(r.verdict, r.regression)} |"
        )
    lines += ["", FOOTNOTE.format(m=cmp.n_tested)]
    if cmp.warnings:
        lines += ["", "**Warnings**", ""] + [f"- {w}" for w in cmp.warnings]
    return "\n".join(lines) + "\n"


FOOTNOTE = (
    "Accuracies are test accuracy in percentage points (mean over the non-diverged seeds the test used). "
    "test: paired t-test over common seeds, or Welch's t-test; p is Holm-corrected across the {m} tested "
    "rows. Detectable drop: smallest drop detected with 80% power at this alpha and n."
)


def headline(cmp: Comparison) -> str:
    """'**No regressions** (max drop 1.00 points, alpha 0.05)', '**2 regressions** (...)' or an exact rerun."""
    crit = f"(max drop {100 * cmp.max_drop:.2f} points, alpha {cmp.alpha:g})"
    if cmp.identical:
        return f"**No regressions**: identical results, an exact rerun {crit}"
    n = cmp.n_regressions
    return f"**No regressions** {crit}" if n == 0 else f"**{n} regression{'s' if n != 1 else ''}** {crit}"


def _jsonable(v):
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v) if math.isfinite(v) else None
    return v
