"""Composable report figures: ``plot_x(data, ax=None) -> (fig, ax)``.

Each function draws into ``ax`` when given (so figures can be composed into pages), else
into a new `matplotlib.figure.Figure` that is not attached to pyplot: no backend is chosen,
nothing is shown. Text that comes from users is drawn with ``parse_math=False``.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Callable, Sequence, cast

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from numpy.typing import ArrayLike

from rehab.reports.data import Headline, SideComparison, SymmetryTrend, Trace, Trend, Week

TARGET_COLOUR = "#2ca02c"
NORM_COLOUR = "#7f7f7f"
MEDIAN_COLOUR = "#1f77b4"
BEST_COLOUR = "#ff7f0e"
PRESCRIBED_COLOUR = "#d62728"
SERIES_COLOURS = (MEDIAN_COLOUR, BEST_COLOUR, "#9467bd", "#8c564b", "#17becf", "#bcbd22")
"""One colour a series where a plot shows several (exercises in the symmetry trend)."""
LEGEND_PAD = 20.0
"""Title padding (points) leaving room for a legend row between title and axes."""


def legend_once() -> Callable[[str], str | None]:
    """A labeller that gives each legend label only the first time (None afterwards)."""
    used: set[str] = set()

    def once(label: str) -> str | None:
        if label in used:
            return None
        used.add(label)
        return label

    return once


def _axes(ax: Axes | None, figsize: tuple[float, float] = (8.0, 3.5)) -> tuple[Figure, Axes]:
    if ax is not None:
        fig = ax.figure
        assert isinstance(fig, Figure)
        return fig, ax
    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def _empty(ax: Axes, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes,
            color="0.4", parse_math=False)
    ax.set_xticks([])
    ax.set_yticks([])


def _dates(days: Sequence[dt.date]) -> ArrayLike:
    """``days`` unchanged as x data: matplotlib's unit converters take dates, its stubs don't."""
    return cast("ArrayLike", days)


def _date_axis(ax: Axes, days: Sequence[dt.date]) -> None:
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    locator = AutoDateLocator(minticks=3, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    if len(set(days)) == 1:  # one day: give the axis some width
        d = days[0]
        ax.set_xlim(cast(float, d - dt.timedelta(days=3)),  # dates: see _dates
                    cast(float, d + dt.timedelta(days=3)))


def plot_recovery_trend(trend: Trend, ax: Axes | None = None) -> tuple[Figure, Axes]:
    """ROM per session over calendar time: median (IQR bar, min-max whisker) and best rep,
    against the target band and the normative value."""
    fig, ax = _axes(ax)
    measured = trend.measured
    ax.set_title(trend.label, loc="left", parse_math=False)
    ax.set_ylabel(f"peak {trend.angle.split('_', 1)[-1].replace('_', ' ')} (°)"
                  if trend.side in ("left", "right") else "peak angle (°)", parse_math=False)
    if trend.target is not None:
        ax.axhspan(*trend.target, color=TARGET_COLOUR, alpha=0.15, lw=0,
                   label=f"target {trend.target[0]:g}–{trend.target[1]:g}°")
    if trend.norm is not None:
        ax.axhline(trend.norm, color=NORM_COLOUR, ls="--", lw=1,
                   label=f"norm {trend.norm:g}° (AAOS)")
    if not measured:
        _empty(ax, "no counted repetitions in this period")
        return fig, ax
    days = [s.session.started for s in measured]
    x = _dates(days)
    med = np.array([s.median for s in measured])
    q25 = np.array([s.q25 for s in measured])
    q75 = np.array([s.q75 for s in measured])
    lo = np.array([s.low for s in measured])
    hi = np.array([s.high for s in measured])
    best = np.array([s.best for s in measured])
    ax.vlines(x, lo, hi, color=MEDIAN_COLOUR, alpha=0.35, lw=1)
    ax.vlines(x, q25, q75, color=MEDIAN_COLOUR, alpha=0.8, lw=3 if len(days) < 60 else 1.5)
    marker = "o" if len(days) < 60 else "."
    ax.plot(x, med, marker=marker, color=MEDIAN_COLOUR, lw=1, ms=4, label="median rep")
    ax.plot(x, best, ls="none", marker="^", color=BEST_COLOUR, ms=4 if len(days) < 60 else 2,
            label="best rep")
    values = np.concatenate([lo, hi] + ([np.array(trend.target)] if trend.target else [])
                            + ([np.array([trend.norm])] if trend.norm is not None else []))
    values = values[np.isfinite(values)]
    pad = max(5.0, 0.08 * float(np.ptp(values)))
    ax.set_ylim(float(values.min()) - pad, float(values.max()) + pad)
    _date_axis(ax, [d.date() for d in days])
    ax.legend(loc="lower right", fontsize="small", ncols=2)
    return fig, ax


def plot_symmetry_trend(trends: Sequence[SymmetryTrend],
                        ax: Axes | None = None) -> tuple[Figure, Axes]:
    """The limb symmetry index per session over calendar time, one line per exercise and
    involved side, against 100% (both sides equal)."""
    fig, ax = _axes(ax, (8.0, 2.8))
    ax.set_title("Limb symmetry index per session (involved / other side's range of motion)",
                 loc="left", pad=LEGEND_PAD)
    if not trends:
        _empty(ax, "no session with both sides measured in this period")
        return fig, ax
    ax.axhline(100.0, color=NORM_COLOUR, ls="--", lw=1, label="sides equal (100%)")
    values, days = [100.0], []
    for i, t in enumerate(trends):
        when = [s.session.started for s in t.sessions]
        index = [t.index(s) for s in t.sessions]
        ax.plot(_dates(when), index, marker="o" if len(when) < 60 else ".", ms=4, lw=1,
                color=SERIES_COLOURS[i % len(SERIES_COLOURS)], label=t.label)
        values += index
        days += [d.date() for d in when]
    lo, hi = min(values), max(values)
    pad = max(5.0, 0.1 * (hi - lo))
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_ylabel("LSI (%)")
    _date_axis(ax, days)
    legend = ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=3, fontsize="small")
    for text in legend.get_texts():  # exercise names come from users
        text.set_parse_math(False)
    return fig, ax


def plot_sessions_per_week(weeks: Sequence[Week], ax: Axes | None = None) -> tuple[Figure, Axes]:
    """Number of sessions in each calendar week."""
    fig, ax = _axes(ax, (8.0, 2.5))
    ax.set_title("Sessions per week", loc="left")
    if not weeks:
        _empty(ax, "no weeks in this period")
        return fig, ax
    starts = [w.start for w in weeks]
    ax.bar(_dates(starts), [w.sessions for w in weeks], width=5, align="edge", color=MEDIAN_COLOUR)
    ax.set_ylabel("sessions")
    # the default y locator, AutoLocator, is a MaxNLocator
    cast(MaxNLocator, ax.yaxis.get_major_locator()).set_params(integer=True)
    _date_axis(ax, starts)
    return fig, ax


def plot_reps_vs_prescribed(weeks: Sequence[Week], ax: Axes | None = None) -> tuple[Figure, Axes]:
    """Counted reps done per week against the reps prescribed for that week."""
    fig, ax = _axes(ax, (8.0, 2.8))
    ax.set_title("Repetitions per week: done vs prescribed", loc="left", pad=LEGEND_PAD)
    if not weeks:
        _empty(ax, "no weeks in this period")
        return fig, ax
    starts = [w.start for w in weeks]
    ax.bar(_dates(starts), [w.reps_done for w in weeks], width=5, align="edge", color=MEDIAN_COLOUR,
           label="done (counted reps)")
    presc = [math.nan if w.reps_prescribed is None else w.reps_prescribed for w in weeks]
    if any(math.isfinite(p) for p in presc):
        edges = starts + [starts[-1] + dt.timedelta(days=7)]
        ax.stairs(presc, _dates(edges), baseline=None, color=PRESCRIBED_COLOUR, lw=1.5,
                  label="prescribed", zorder=3)
    ax.set_ylabel("reps")
    _date_axis(ax, starts)
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=2, fontsize="small")
    return fig, ax


def plot_angle_trace(trace: Trace, ax: Axes | None = None) -> tuple[Figure, Axes]:
    """A session's smoothed primary angle with rep boundaries and the target band."""
    fig, ax = _axes(ax, (8.0, 3.0))
    ax.set_title(trace.label, loc="left", parse_math=False, pad=LEGEND_PAD)
    if trace.target is not None:
        ax.axhspan(*trace.target, color=TARGET_COLOUR, alpha=0.15, lw=0,
                   label=f"target {trace.target[0]:g}–{trace.target[1]:g}°")
    for k, r in enumerate(trace.reps):
        ax.axvspan(r.start_s, r.end_s, color="0.85", alpha=0.6, lw=0,
                   label="repetition" if k == 0 else None)
        ax.axvline(r.start_s, color="0.5", lw=0.6)
        ax.axvline(r.end_s, color="0.5", lw=0.6)
        if len(trace.reps) <= 30:
            ax.annotate(str(r.index), (0.5 * (r.start_s + r.end_s), 0.99),
                        xycoords=("data", "axes fraction"), ha="center", va="top",
                        fontsize="x-small", color="0.3")
    ax.plot(trace.time_s, trace.angle_deg, color=MEDIAN_COLOUR, lw=1.2, label="angle")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("angle (°)")
    if trace.time_s.size:
        ax.set_xlim(float(trace.time_s[0]), float(trace.time_s[-1]))
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=3, fontsize="small")
    return fig, ax


def plot_side_comparison(pairs: Sequence[SideComparison],
                         ax: Axes | None = None) -> tuple[Figure, Axes]:
    """Latest median ROM on the left and right side, per exercise, with target bands."""
    fig, ax = _axes(ax, (8.0, 2.8))
    ax.set_title("Left / right (latest session of each side, median rep)", loc="left",
                 pad=LEGEND_PAD)
    if not pairs:
        _empty(ax, "no exercise recorded on both sides")
        return fig, ax
    y = np.arange(len(pairs))
    for i, p in enumerate(pairs):
        if p.target is not None:
            ax.fill_betweenx([i - 0.4, i + 0.4], *p.target, color=TARGET_COLOUR, alpha=0.2,
                             lw=0, label="target" if i == 0 else None, zorder=0)
    ax.barh(y + 0.17, [p.left for p in pairs], 0.3, label="left", color=MEDIAN_COLOUR,
            zorder=2)
    ax.barh(y - 0.17, [p.right for p in pairs], 0.3, label="right", color=BEST_COLOUR,
            zorder=2)
    ax.set_yticks(y, [p.exercise_name for p in pairs])
    for label in ax.get_yticklabels():
        label.set_parse_math(False)
    ax.set_ylim(-0.6, len(pairs) - 0.4)
    ax.invert_yaxis()
    ax.set_xlabel("peak angle (°)")
    ax.grid(axis="x")
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=3, fontsize="small")
    return fig, ax


def plot_rom_headline(headlines: Sequence[Headline],
                      ax: Axes | None = None) -> tuple[Figure, Axes]:
    """Per exercise and side: first and latest median ROM against target band and norm."""
    fig, ax = _axes(ax, (8.0, 0.6 + 0.45 * max(1, len(headlines))))
    ax.set_title("Peak angle: first session → now", loc="left", pad=LEGEND_PAD)
    rows = [h for h in headlines if h.first_day is not None]
    if not rows:
        _empty(ax, "no measured session in this period")
        return fig, ax
    once = legend_once()
    for i, h in enumerate(rows):
        if h.target is not None:
            ax.fill_betweenx([i - 0.3, i + 0.3], *h.target, color=TARGET_COLOUR, alpha=0.2,
                             lw=0, label=once("target"))
        if h.norm is not None:
            ax.plot([h.norm, h.norm], [i - 0.35, i + 0.35], color=NORM_COLOUR, lw=1.5,
                    label=once("norm (AAOS)"))
        if h.n_measured > 1:
            ax.annotate("", xy=(h.last, i), xytext=(h.first, i),
                        arrowprops={"arrowstyle": "->", "color": "0.3", "lw": 1.2})
            ax.plot(h.first, i, "o", mfc="white", mec=MEDIAN_COLOUR, ms=7,
                    label=once("first session"))
        ax.plot(h.last, i, "o", color=MEDIAN_COLOUR, ms=7, label=once("now"))
    ax.set_yticks(range(len(rows)), [h.label for h in rows])
    for label in ax.get_yticklabels():
        label.set_parse_math(False)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.invert_yaxis()
    ax.set_xlabel("peak angle (°)")
    ax.grid(axis="x")
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=4, fontsize="small")
    return fig, ax
