"""Compare two result sets (a baseline and a candidate) for regressions, e.g. in CI.

Rows are matched by (dataset, model, activation); each row compares the test accuracy
of the non-diverged seeds of both sides:

* paired when both sides finished at least 2 of the same seeds (the same seed means the
  same initial weights and data order): a paired t-test on the per-seed differences over
  the common seeds; seeds on one side only are named in a warning and left out. Welch's
  t-test over all seeds otherwise. The `test` column says which.
* p-values are Holm-corrected across all tested rows of the comparison, so "any
  regression" keeps its false-alarm rate at or below alpha however many rows are compared.
* p_holm < alpha -> 'better' or 'worse' (by the sign of the difference), else 'same'. A
  row is a *regression* when it is significantly worse AND the drop exceeds max_drop.
* identical numbers on identical seeds, same config hash, same versions and backend:
  'identical' (an exact rerun).
* with fewer than 2 values on either side no test is possible, so only max_drop applies:
  diff < -max_drop -> 'worse' and a regression; diff > max_drop -> 'better'; else 'same'.
* a side where every run diverged: candidate all-diverged (base not) -> 'worse' and a
  regression; base all-diverged (candidate not) -> 'better'; both -> 'same'.
* power: each tested row states the smallest drop it detects with 80% power at alpha/m
  (m tested rows, Holm's first step), from the observed spread; a warning says when
  --max-drop is below it.

No Keras import here; this runs in CI in well under a second or two.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from actbench.errors import ResultsError
from actbench.results import GROUP_KEYS, ResultSet

from .significance import NO_TEST, PAIRED, TestResult, compare_by_seed, holm, min_detectable_drop
from .stats import typed_runs

COMPARE_COLUMNS = [
    *GROUP_KEYS,
    "test",
    "base_n",
    "cand_n",
    "base_at_chance",
    "cand_at_chance",
    "base_mean",
    "cand_mean",
    "diff",
    "diff_ci_low",
    "diff_ci_high",
    "p_value",
    "p_holm",
    "min_detectable_drop",
    "verdict",
    "regression",
]


@dataclass
class Comparison:
    rows: pd.DataFrame
    warnings: list[str] = field(default_factory=list)
    regressed: bool = False
    max_drop: float = 0.01
    alpha: float = 0.05
    base_source: str = ""
    cand_source: str = ""
    n_tested: int = 0  # rows with a test: Holm's m

    @property
    def n_regressions(self) -> int:
        return int(self.rows["regression"].sum()) if len(self.rows) else 0

    @property
    def identical(self) -> bool:
        """Every row is an exact rerun."""
        return bool(len(self.rows)) and bool((self.rows["verdict"] == "identical").all())


@dataclass
class _Side:
    """One (dataset, model, activation) of one side."""

    accuracy: dict[int, float]  # seed -> test accuracy of the non-diverged runs
    numbers: dict[int, tuple]  # seed -> (diverged, test accuracy, test loss) of every run
    at_chance: int

    @property
    def n(self) -> int:
        return len(self.accuracy)


def compare(base: ResultSet, cand: ResultSet, max_drop: float = 0.01, alpha: float = 0.05) -> Comparison:
    """Compare candidate results against base results; see the module docstring for the rules."""
    b, c = typed_runs(base.runs)[0], typed_runs(cand.runs)[0]
    bkeys = list(dict.fromkeys(map(tuple, b[GROUP_KEYS].to_numpy())))
    ckeys = list(dict.fromkeys(map(tuple, c[GROUP_KEYS].to_numpy())))
    common = [k for k in bkeys if k in set(ckeys)]
    if not common:
        raise ResultsError(
            "No (dataset, model, activation) in common between the two result sets.\n"
            f"Base ({base.source}) has: {', '.join(_label(k) for k in bkeys) or 'nothing'}.\n"
            f"Candidate ({cand.source}) has: {', '.join(_label(k) for k in ckeys) or 'nothing'}."
        )
    setup_warnings = _setup_warnings(base, cand)
    warnings = setup_warnings + _coverage_warnings(bkeys, ckeys, b, c)
    sides = {k: (_side(b, k), _side(c, k)) for k in common}
    warnings += _seed_warnings(sides)
    tests = {k: compare_by_seed(cs.accuracy, bs.accuracy) for k, (bs, cs) in sides.items()}
    tested = [k for k in common if tests[k].test != NO_TEST]
    p_holm = dict(zip(tested, holm([tests[k].p_value for k in tested])))
    level = alpha / max(len(tested), 1)
    rows = []
    for k in common:
        bs, cs = sides[k]
        exact = not setup_warnings and bs.numbers == cs.numbers
        rows.append(
            _row(
                k,
                bs,
                cs,
                tests[k],
                p_holm.get(k, math.nan),
                min_detectable_drop(tests[k], level),
                exact,
                max_drop,
                alpha,
            )
        )
    df = pd.DataFrame(rows, columns=COMPARE_COLUMNS)
    df["regression"] = df["regression"].astype(bool)
    warnings += _power_warning(df, max_drop, alpha, len(tested))
    return Comparison(
        rows=df,
        warnings=warnings,
        regressed=bool(df["regression"].any()),
        max_drop=max_drop,
        alpha=alpha,
        base_source=str(base.source),
        cand_source=str(cand.source),
        n_tested=len(tested),
    )


def _side(runs: pd.DataFrame, key: tuple) -> _Side:
    mine = runs[(runs[GROUP_KEYS] == pd.Series(key, index=GROUP_KEYS)).all(axis=1)]
    ok = mine[~mine["diverged"] & np.isfinite(mine["test_accuracy"].to_numpy(dtype=float))]
    numbers = {
        int(r.seed): (bool(r.diverged), _rounded(r.test_accuracy), _rounded(r.test_loss))
        for r in mine.itertuples(index=False)
    }
    return _Side(
        accuracy=dict(zip(ok["seed"].astype(int), ok["test_accuracy"].astype(float))),
        numbers=numbers,
        at_chance=int(ok["at_chance"].sum()),
    )


def _rounded(x) -> float | None:
    # NaN != NaN: map missing values to None so two diverged runs compare equal.
    return None if x is None or not math.isfinite(float(x)) else float(x)


def _row(
    key: tuple,
    bs: _Side,
    cs: _Side,
    t: TestResult,
    p_holm: float,
    mdd: float,
    exact: bool,
    max_drop: float,
    alpha: float,
) -> dict:
    used = sorted(set(bs.accuracy) & set(cs.accuracy)) if t.test == PAIRED else None
    bvals = [bs.accuracy[s] for s in used] if used is not None else list(bs.accuracy.values())
    cvals = [cs.accuracy[s] for s in used] if used is not None else list(cs.accuracy.values())
    diff = t.diff
    if exact:
        verdict, regression = "identical", False
    elif not bvals or not cvals:
        verdict = "worse" if not cvals and bvals else ("better" if cvals and not bvals else "same")
        regression = verdict == "worse"
    elif t.test != NO_TEST:
        significant = p_holm < alpha and diff != 0
        verdict = ("better" if diff > 0 else "worse") if significant else "same"
        regression = bool(significant and diff < -max_drop)
    else:
        regression = diff < -max_drop
        verdict = "worse" if regression else ("better" if diff > max_drop else "same")
    return {
        "dataset": key[0],
        "model": key[1],
        "activation": key[2],
        "test": t.test,
        "base_n": len(bvals),
        "cand_n": len(cvals),
        "base_at_chance": bs.at_chance,
        "cand_at_chance": cs.at_chance,
        "base_mean": float(np.mean(bvals)) if bvals else math.nan,
        "cand_mean": float(np.mean(cvals)) if cvals else math.nan,
        "diff": diff,
        "diff_ci_low": t.ci_low,
        "diff_ci_high": t.ci_high,
        "p_value": t.p_value,
        "p_holm": p_holm,
        "min_detectable_drop": mdd,
        "verdict": verdict,
        "regression": bool(regression),
    }


def _label(key: tuple) -> str:
    return "/".join(str(k) for k in key)


def _version_warnings(base: ResultSet, cand: ResultSet) -> list[str]:
    if not base.metadata or not cand.metadata:
        return []
    out = []
    bv = base.metadata.get("versions") or {}
    cv = cand.metadata.get("versions") or {}
    diffs = [
        f"{lib} {cv.get(lib, 'absent')} vs {bv.get(lib, 'absent')}"
        for lib in sorted(set(bv) | set(cv))
        if str(bv.get(lib)) != str(cv.get(lib))
    ]
    if diffs:
        out.append("Library versions differ (candidate vs base): " + ", ".join(diffs) + ".")
    bb, cb = base.metadata.get("backend"), cand.metadata.get("backend")
    if bb != cb and (bb or cb):
        out.append(f"Keras backend differs: candidate {cb} vs base {bb}.")
    return out


def _setup_warnings(base: ResultSet, cand: ResultSet) -> list[str]:
    """What differs between the two sides' setups (config hash, versions, backend)."""
    out = []
    bh, ch = base.config_hashes, cand.config_hashes
    if bh != ch:
        out.append(
            f"Config hashes differ: base {', '.join(bh)} vs candidate {', '.join(ch)}; the runs may not be comparable."
        )
    return out + _version_warnings(base, cand)


def _coverage_warnings(bkeys: list[tuple], ckeys: list[tuple], b: pd.DataFrame, c: pd.DataFrame) -> list[str]:
    """Rows on one side only, and diverged runs."""
    out = []
    only_b = [k for k in bkeys if k not in set(ckeys)]
    only_c = [k for k in ckeys if k not in set(bkeys)]
    if only_b:
        out.append(f"Only in base (not compared): {', '.join(_label(k) for k in only_b)}.")
    if only_c:
        out.append(f"Only in candidate (not compared): {', '.join(_label(k) for k in only_c)}.")
    for name, df in (("base", b), ("candidate", c)):
        nd = int(df["diverged"].sum())
        if nd:
            which = ", ".join(
                sorted(
                    {
                        f"{_label(k)} seed {s}"
                        for *k, s in df.loc[df["diverged"], [*GROUP_KEYS, "seed"]].itertuples(index=False)
                    }
                )
            )
            out.append(f"{nd} diverged run(s) in {name} excluded from the comparison: {which}.")
    return out


def _seed_warnings(sides: dict[tuple, tuple[_Side, _Side]]) -> list[str]:
    """Seeds left out of a pairing, and runs that stayed at chance on the candidate side only."""
    out = []
    for key, (bs, cs) in sides.items():
        common = set(bs.accuracy) & set(cs.accuracy)
        if len(common) >= 2 and common != set(bs.accuracy) | set(cs.accuracy):
            only = [
                f"{side} only: seed(s) {', '.join(map(str, sorted(set(s.accuracy) - common)))}"
                for side, s in (("base", bs), ("candidate", cs))
                if set(s.accuracy) - common
            ]
            out.append(f"{_label(key)}: paired on {len(common)} common seeds; left out ({'; '.join(only)}).")
        if cs.at_chance > bs.at_chance:
            out.append(
                f"{_label(key)}: {cs.at_chance} of {cs.n} candidate run(s) stayed at chance "
                f"(base {bs.at_chance} of {bs.n})."
            )
    return out


def _power_warning(rows: pd.DataFrame, max_drop: float, alpha: float, m: int) -> list[str]:
    """One line when some tested row cannot reliably detect a drop of max_drop."""
    weak = rows[rows["min_detectable_drop"] > max_drop].sort_values("min_detectable_drop", ascending=False)
    if weak.empty:
        return []
    worst = weak.iloc[0]
    n = int(min(worst["base_n"], worst["cand_n"]))
    kind = "paired seeds" if worst["test"] == PAIRED else "seeds per side"
    others = f" ({len(weak) - 1} other row(s) too)" if len(weak) > 1 else ""
    return [
        f"{n} {kind} cannot reliably detect drops under {100 * worst['min_detectable_drop']:.2f} points "
        f"({_label((worst['dataset'], worst['model'], worst['activation']))}{others}; 80% power at alpha "
        f"{alpha:g}/{m}), above --max-drop {100 * max_drop:.2f}: add seeds."
    ]
