"""Axis helpers shared by the report's figures: log-axis tick labels that never overlap, and
the y range of an accuracy axis chosen from the activations that learned (outliers far below
are drawn as markers at the bottom edge with their value, instead of squashing the others)."""

from __future__ import annotations

import math

import numpy as np

OUTLIER_POINTS = 15.0  # a mean this many points below the median of those that learned is drawn below the axis
LABEL_GAP_FONT_SIZES = 1.6  # neighbouring tick labels' centres at least this many font sizes apart

LINEAR_BELOW_DECADES = 0.7  # narrower log axes get evenly spaced ticks (too few 1-2-3-5 points fall inside)

# Which mantissas get a label between decades, densest first; 1 = the decade itself.
# Each entry: (mantissas, smallest gap between neighbours in decades, largest data range in decades it may be used at).
_LABEL_SETS = (
    ((1, 2, 3, 5), math.log10(5 / 3), 1.0),
    ((1, 2, 5), math.log10(2), 1.0),
    ((1, 3), math.log10(10 / 3), 2.0),
    ((1,), 1.0, math.inf),
)


def log_label_mantissas(decades: float, points_per_decade: float, font_points: float) -> tuple[int, ...]:
    """The densest mantissa set whose labels stay apart: ranges of a decade or more get few labels
    between decades (none from two decades on), and neighbours keep LABEL_GAP_FONT_SIZES apart."""
    for mantissas, gap, max_decades in _LABEL_SETS:
        if decades <= max_decades and gap * points_per_decade >= LABEL_GAP_FONT_SIZES * font_points:
            return mantissas
    return (1,)


def _mantissa(x: float) -> tuple[int, bool]:
    """(mantissa of x when it is a whole number 1..9, else 0; whether x is a power of ten)."""
    exponent = math.floor(math.log10(x) + 1e-9)
    m = x / 10.0**exponent
    digit = round(m) if abs(m - round(m)) < 1e-6 else 0
    digit = 1 if digit == 10 else digit  # 0.0999999... is the decade 0.1
    return digit, digit == 1


def _view(axis) -> tuple[float, float, float, float]:
    """(low, high, decades spanned, axis height in points) of a log y axis now."""
    lo, hi = sorted(axis.get_view_interval())
    lo = max(lo, 1e-300)
    decades = max(math.log10(max(hi, lo)) - math.log10(lo), 1e-9)
    return lo, hi, decades, axis.axes.bbox.height * 72.0 / axis.axes.figure.dpi


def readable_log_axis_parts(font_points: float):
    """(minor locator, major formatter, minor formatter) for a log y axis with plain-number labels
    that never overlap. Decided at draw time from the final axis size and limits: ranges under
    LINEAR_BELOW_DECADES get evenly spaced minor ticks, all labelled; wider ones the minor ticks
    2..9 of each decade, labelled only at the mantissas log_label_mantissas allows."""
    import matplotlib.ticker as mticker

    class MinorLocator(mticker.Locator):
        def __call__(self):
            return self.tick_values(*self.axis.get_view_interval())

        def tick_values(self, vmin, vmax):
            lo, hi, decades, height = _view(self.axis)
            if decades < LINEAR_BELOW_DECADES:
                nbins = int(min(6, max(2, height / (3 * font_points))))
                ticks = mticker.MaxNLocator(nbins=nbins, steps=[1, 2, 2.5, 5, 10]).tick_values(lo, hi)
                return [t for t in ticks if t > 0 and not _mantissa(t)[1]]
            log = mticker.LogLocator(subs=np.arange(2, 10))
            log.set_axis(self.axis)
            return log.tick_values(lo, hi)

    class Formatter(mticker.Formatter):
        def __init__(self, minor: bool):
            self.minor, self.mantissas, self.linear = minor, (1,), False

        def set_locs(self, locs):
            super().set_locs(locs)
            _, _, decades, height = _view(self.axis)
            self.linear = decades < LINEAR_BELOW_DECADES
            self.mantissas = log_label_mantissas(decades, height / decades, font_points)

        def __call__(self, x, pos=None):
            if not np.isfinite(x) or x <= 0:
                return ""
            digit, is_decade = _mantissa(x)
            if is_decade:  # decades are labelled by the major formatter only
                return "" if self.minor else f"{x:g}"
            return f"{x:g}" if self.minor and (self.linear or digit in self.mantissas) else ""

    return MinorLocator(), Formatter(minor=False), Formatter(minor=True)


def readable_log_yaxis(ax, minor_font: float = 7.0) -> None:
    """Log y scale whose tick labels never overlap, whatever the data range."""
    import matplotlib as mpl

    ax.set_yscale("log")
    major_font = mpl.font_manager.FontProperties(size=mpl.rcParams["ytick.labelsize"]).get_size_in_points()
    minor_locator, major_formatter, minor_formatter = readable_log_axis_parts(max(major_font, minor_font))
    ax.yaxis.set_minor_locator(minor_locator)
    ax.yaxis.set_major_formatter(major_formatter)
    ax.yaxis.set_minor_formatter(minor_formatter)
    ax.tick_params(axis="y", which="minor", labelsize=minor_font)


def below_axis_mask(mean: np.ndarray, at_chance: np.ndarray) -> np.ndarray:
    """True for the points drawn below the axis: all seeds at chance, or a mean more than OUTLIER_POINTS
    below the median of the others (means in percent). Never all points: then none is an outlier."""
    mean = np.asarray(mean, dtype=float)
    at_chance = np.asarray(at_chance, dtype=bool)
    learned = np.isfinite(mean) & ~at_chance
    if not learned.any():
        return np.zeros(mean.shape, dtype=bool)
    median = float(np.median(mean[learned]))
    out = np.isfinite(mean) & (at_chance | (mean < median - OUTLIER_POINTS))
    return np.zeros(mean.shape, dtype=bool) if out[np.isfinite(mean)].all() else out


def all_at_chance(s) -> np.ndarray:
    """Per summary row: every counted seed ended at chance (summary columns n, n_at_chance)."""
    if "n_at_chance" not in s.columns:
        return np.zeros(len(s), dtype=bool)
    n, at = (s[c].to_numpy(dtype=float) for c in ("n", "n_at_chance"))
    return (n > 0) & (at >= n)


def accuracy_ylim(lo: np.ndarray, hi: np.ndarray, mean: np.ndarray, shown: np.ndarray) -> tuple[float, float] | None:
    """y limits (percent) that hold the shown points' CIs with some room; None when nothing is shown."""
    vals = np.concatenate([np.asarray(a, dtype=float)[shown] for a in (lo, hi, mean)])
    vals = vals[np.isfinite(vals)]
    if not len(vals):
        return None
    bottom, top = float(vals.min()), float(vals.max())
    pad = max(0.12 * (top - bottom), 0.5)
    return max(bottom - pad, 0.0), min(top + pad, 100.0 + pad)


def mark_below_axis(ax, x: float, label: str, color, font: float = 7.0, rotation: float = 0.0) -> None:
    """A downward triangle on the bottom edge at x (data units), with label above it."""
    import matplotlib.transforms as mtransforms

    trans = mtransforms.blended_transform_factory(ax.transData, ax.transAxes)
    ax.plot([x], [0.0], marker="v", ms=8, color=color, transform=trans, clip_on=False, zorder=5)
    ax.annotate(
        label,
        (x, 0.0),
        xycoords=trans,
        textcoords="offset points",
        xytext=(0, 7),
        ha="center",
        va="bottom",
        fontsize=font,
        rotation=rotation,
        color="0.2",
    )
