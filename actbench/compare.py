"""Compare two result sets (a baseline and a candidate) for regressions, e.g. in CI.

Rows are matched by (dataset, model, activation). For each match the mean test accuracy
over the non-diverged seeds of each side is compared:

* with >= 2 seeds on both sides, Welch's t-test decides: p < alpha -> 'better' or
  'worse' (by the sign of the difference), else 'same'. A row is a *regression* when it
  is significantly worse (p < alpha) AND the drop is larger than max_drop.
  Significantly worse but within max_drop stays 'worse' without being a regression.
* with 1 seed on either side no test is possible, so only max_drop applies:
  diff < -max_drop -> 'worse' and a regression; diff > max_drop -> 'better'; else 'same'.
* a side where every run diverged: candidate all-diverged (base not) -> 'worse' and a
  regression; base all-diverged (candidate not) -> 'better'; both -> 'same'.

No Keras import here; this runs in CI in well under a second or two.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .errors import ResultsError
from .results import GROUP_KEYS, ResultSet
from .stats import _diverged_mask, _num, welch

COMPARE_COLUMNS = [
    *GROUP_KEYS, "base_n", "cand_n", "base_mean", "cand_mean", "diff", "diff_ci_low",
    "diff_ci_high", "p_value", "verdict", "regression",
]
FORMATS = ("markdown", "csv", "json")


@dataclass
class Comparison:
    rows: pd.DataFrame
    warnings: list[str] = field(default_factory=list)
    regressed: bool = False
    max_drop: float = 0.01
    alpha: float = 0.05
    base_source: str = ""
    cand_source: str = ""

    @property
    def n_regressions(self) -> int:
        return int(self.rows["regression"].sum()) if len(self.rows) else 0


def _groups(rs: ResultSet) -> pd.DataFrame:
    runs = rs.runs.reset_index(drop=True)
    for k in GROUP_KEYS:
        runs[k] = runs[k].astype(str)
    runs["_diverged"] = _diverged_mask(runs).to_numpy()
    runs["test_accuracy"] = _num(runs["test_accuracy"])
    return runs


def _label(key: tuple) -> str:
    return "/".join(str(k) for k in key)


def _version_warnings(base: ResultSet, cand: ResultSet) -> list[str]:
    if not base.metadata or not cand.metadata:
        return []
    out = []
    bv = base.metadata.get("versions") or {}
    cv = cand.metadata.get("versions") or {}
    diffs = [f"{lib} {cv.get(lib, 'absent')} vs {bv.get(lib, 'absent')}"
             for lib in sorted(set(bv) | set(cv)) if str(bv.get(lib)) != str(cv.get(lib))]
    if diffs:
        out.append("Library versions differ (candidate vs base): " + ", ".join(diffs) + ".")
    bb, cb = base.metadata.get("backend"), cand.metadata.get("backend")
    if bb != cb and (bb or cb):
        out.append(f"Keras backend differs: candidate {cb} vs base {bb}.")
    return out


def compare(base: ResultSet, cand: ResultSet, max_drop: float = 0.01, alpha: float = 0.05) -> Comparison:
    """Compare candidate results against base results; see the module docstring for the rules."""
    b, c = _groups(base), _groups(cand)
    bkeys = list(dict.fromkeys(map(tuple, b[GROUP_KEYS].to_numpy())))
    ckeys = list(dict.fromkeys(map(tuple, c[GROUP_KEYS].to_numpy())))
    common = [k for k in bkeys if k in set(ckeys)]
    if not common:
        raise ResultsError(
            "No (dataset, model, activation) in common between the two result sets.\n"
            f"Base ({base.source}) has: {', '.join(_label(k) for k in bkeys) or 'nothing'}.\n"
            f"Candidate ({cand.source}) has: {', '.join(_label(k) for k in ckeys) or 'nothing'}."
        )

    warnings: list[str] = []
    bh, ch = base.config_hashes, cand.config_hashes
    if bh != ch:
        warnings.append(f"Config hashes differ: base {', '.join(bh)} vs candidate {', '.join(ch)}; "
                        "the runs may not be comparable.")
    warnings += _version_warnings(base, cand)
    only_b = [k for k in bkeys if k not in set(ckeys)]
    only_c = [k for k in ckeys if k not in set(bkeys)]
    if only_b:
        warnings.append(f"Only in base (not compared): {', '.join(_label(k) for k in only_b)}.")
    if only_c:
        warnings.append(f"Only in candidate (not compared): {', '.join(_label(k) for k in only_c)}.")
    for name, df in (("base", b), ("candidate", c)):
        nd = int(df["_diverged"].sum())
        if nd:
            which = ", ".join(sorted({f"{_label(k)} seed {s}" for *k, s in
                                      df.loc[df["_diverged"], [*GROUP_KEYS, "seed"]].itertuples(index=False)}))
            warnings.append(f"{nd} diverged run(s) in {name} excluded from the comparison: {which}.")

    rows = []
    for key in common:
        bm = (b[GROUP_KEYS] == pd.Series(key, index=GROUP_KEYS)).all(axis=1)
        cm = (c[GROUP_KEYS] == pd.Series(key, index=GROUP_KEYS)).all(axis=1)
        bvals = b.loc[bm & ~b["_diverged"], "test_accuracy"].dropna().to_numpy(dtype=float)
        cvals = c.loc[cm & ~c["_diverged"], "test_accuracy"].dropna().to_numpy(dtype=float)
        bvals, cvals = bvals[np.isfinite(bvals)], cvals[np.isfinite(cvals)]
        nb, nc = len(bvals), len(cvals)
        bmean = float(bvals.mean()) if nb else math.nan
        cmean = float(cvals.mean()) if nc else math.nan
        diff, lo, hi, p = welch(cvals, bvals)
        if nb == 0 or nc == 0:
            verdict = "worse" if nc == 0 and nb > 0 else ("better" if nb == 0 and nc > 0 else "same")
            regression = verdict == "worse"
        elif nb >= 2 and nc >= 2:
            significant = p < alpha
            verdict = ("better" if diff > 0 else "worse") if significant and diff != 0 else "same"
            regression = bool(significant and diff < -max_drop)
        else:
            regression = diff < -max_drop
            verdict = "worse" if regression else ("better" if diff > max_drop else "same")
        rows.append({
            "dataset": key[0], "model": key[1], "activation": key[2], "base_n": nb, "cand_n": nc,
            "base_mean": bmean, "cand_mean": cmean, "diff": diff, "diff_ci_low": lo,
            "diff_ci_high": hi, "p_value": p, "verdict": verdict, "regression": bool(regression),
        })
    df = pd.DataFrame(rows, columns=COMPARE_COLUMNS)
    df["regression"] = df["regression"].astype(bool)
    return Comparison(rows=df, warnings=warnings, regressed=bool(df["regression"].any()),
                      max_drop=max_drop, alpha=alpha, base_source=str(base.source),
                      cand_source=str(cand.source))


# ---------------------------------------------------------------- formatting

def _pts(x: float, signed: bool = False) -> str:
    if x is None or not math.isfinite(x):
        return "–"
    return f"{100 * x:+.2f}" if signed else f"{100 * x:.2f}"


def _p(x: float) -> str:
    if x is None or not math.isfinite(x):
        return "–"
    return f"{x:.3g}" if x >= 0.001 else "<0.001"


_MARK = {"better": "better ✅", "worse": "worse (within max drop)", "same": "same"}


def format_comparison(cmp: Comparison, fmt: str = "markdown") -> str:
    """Render a Comparison as 'markdown' (for $GITHUB_STEP_SUMMARY), 'csv' or 'json'."""
    if fmt == "csv":
        return cmp.rows.to_csv(index=False, float_format="%.10g", lineterminator="\n")
    if fmt == "json":
        records = [{k: _jsonable(v) for k, v in r.items()} for r in cmp.rows.to_dict(orient="records")]
        return json.dumps({"regressed": bool(cmp.regressed), "max_drop": cmp.max_drop, "alpha": cmp.alpha,
                           "base": cmp.base_source, "candidate": cmp.cand_source,
                           "warnings": list(cmp.warnings), "rows": records}, indent=2, allow_nan=False) + "\n"
    if fmt != "markdown":
        raise ResultsError(f"Unknown comparison format '{fmt}'; use one of: {', '.join(FORMATS)}.")

    n = cmp.n_regressions
    crit = f"(max drop {100 * cmp.max_drop:.2f} points, alpha {cmp.alpha:g})"
    verdict = f"**No regressions** {crit}" if n == 0 else \
        f"**{n} regression{'s' if n != 1 else ''}** {crit}"
    lines = [
        "### actbench comparison",
        "",
        f"Base: `{cmp.base_source}` · Candidate: `{cmp.cand_source}`",
        "",
        verdict,
        "",
        "| dataset | model | activation | base acc (n) | candidate acc (n) | diff (points) | 95% CI of diff | p | verdict |",
        "|---|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in cmp.rows.itertuples(index=False):
        ci = "–" if not math.isfinite(r.diff_ci_low) else f"[{_pts(r.diff_ci_low, True)}, {_pts(r.diff_ci_high, True)}]"
        mark = "**regression** ❌" if r.regression else _MARK.get(r.verdict, r.verdict)
        lines.append(f"| {r.dataset} | {r.model} | {r.activation} | {_pts(r.base_mean)} ({r.base_n}) | "
                     f"{_pts(r.cand_mean)} ({r.cand_n}) | {_pts(r.diff, True)} | {ci} | {_p(r.p_value)} | {mark} |")
    lines.append("")
    lines.append("Accuracies are test accuracy in percentage points (mean over non-diverged seeds); "
                 "p is Welch's two-sided t-test (needs ≥ 2 seeds per side).")
    if cmp.warnings:
        lines += ["", "**Warnings**", ""] + [f"- {w}" for w in cmp.warnings]
    return "\n".join(lines) + "\n"


def _jsonable(v):
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v) if math.isfinite(v) else None
    return v
