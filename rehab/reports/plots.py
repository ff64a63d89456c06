"""Composable report figures: ``plot_x(data, ax=None) -> (fig, ax)``.

Each function draws into ``ax`` when given (so figures can be composed into pages), else
into a new `matplotlib.figure.Figure` that is not attached to pyplot: no backend is chosen,
nothing is shown. Text that comes from users is drawn with ``parse_math=False``.
"""

from __future__ import annotations

import datetime as dt
from typing import Callable, Sequence, cast

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from numpy.typing import ArrayLike

from rehab.reports.adherence import Week
from rehab.reports.data import (Entry, Headline, SideComparison, SymmetryTrend, Trace, Trend)

# Okabe & Ito's colour-blind safe palette
BLUE, ORANGE, SKY, GREEN, YELLOW, VERMILLION, PURPLE = (
    "#0072B2", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#D55E00", "#CC79A7")
BETTER_COLOUR = BLUE
WORSE_COLOUR = VERMILLION
TARGET_COLOUR = GREEN
NORM_COLOUR = "#7f7f7f"
MEDIAN_COLOUR = BLUE
BEST_COLOUR = ORANGE
PRESCRIBED_COLOUR = "#222222"
PAIN_COLOUR = VERMILLION
EXERTION_COLOUR = PURPLE
SERIES_COLOURS = (BLUE, ORANGE, GREEN, PURPLE, SKY, VERMILLION)
"""One colour a series where a plot shows several (exercises in the symmetry trend and the
adherence bars)."""
Period = tuple[dt.date, dt.date]
MAX_MONTH_TICKS = 8
LEGEND_PAD = 20.0
"""Title padding (points) leaving room for a legend row between title and axes."""


TITLE_CHARS = 80
"""Axes titles are wrapped at this many characters (an A4 page's axes at 10 pt)."""
LEGEND_CHARS = 28


def wrap(text: str, n: int) -> str:
    """``text`` broken into lines of at most ``n`` characters (long words split)."""
    import textwrap

    return "\n".join(textwrap.wrap(text, n, break_long_words=True)) or text


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


def _date_axis(ax: Axes, days: Sequence[dt.date], period: Period | None = None) -> None:
    """Calendar x axis over ``period`` (else the span of ``days``) whose tick labels name
    the month: up to 6 weeks, Mondays as ``12 Oct``; longer, the first of each month (every
    second, third... beyond `MAX_MONTH_TICKS` months) as ``Oct 2026``, weeks as minor ticks."""
    from matplotlib.dates import DateFormatter, MonthLocator, WeekdayLocator, MO

    if period is None:
        if not days:
            return
        period = (min(days), max(days))
    lo, hi = period
    if (hi - lo).days <= 42:
        lo, hi = lo - dt.timedelta(days=1), hi + dt.timedelta(days=1)
        if (hi - lo).days < 7:  # a few days: give the axis some width
            lo, hi = lo - dt.timedelta(days=3), hi + dt.timedelta(days=3)
        ax.xaxis.set_major_locator(WeekdayLocator(byweekday=MO))
        ax.xaxis.set_major_formatter(DateFormatter("%d %b"))
    else:
        lo = lo.replace(day=1)  # the axis starts on the first month's first
        hi = hi + dt.timedelta(days=2)
        months = (hi.year - lo.year) * 12 + hi.month - lo.month + 1
        step = max(1, -(-months // MAX_MONTH_TICKS))
        ax.xaxis.set_major_locator(MonthLocator(interval=step))
        ax.xaxis.set_major_formatter(DateFormatter("%b %Y"))
        if months <= 14:
            ax.xaxis.set_minor_locator(WeekdayLocator(byweekday=MO))
    ax.set_xlim(cast(float, lo), cast(float, hi))  # dates: see _dates


def plot_recovery_trend(trend: Trend, ax: Axes | None = None,
                        period: Period | None = None) -> tuple[Figure, Axes]:
    """ROM per session over calendar time: median (IQR bar, min-max whisker) and best rep,
    against the target band and the normative value."""
    fig, ax = _axes(ax)
    measured = trend.measured
    ax.set_title(wrap(trend.label, TITLE_CHARS), loc="left", parse_math=False,
                 pad=LEGEND_PAD)
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
    _date_axis(ax, [d.date() for d in days], period)
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), fontsize="small", ncols=4)
    return fig, ax


def plot_feedback(entries: Sequence[Entry], ax: Axes | None = None,
                  period: Period | None = None) -> tuple[Figure, Axes]:
    """Pain (NRS 0-10) and perceived exertion (Borg CR10) reported per session."""
    fig, ax = _axes(ax, (8.0, 1.6))
    pain = [(e.day, e.feedback.pain) for e in entries if e.feedback.pain is not None]
    effort = [(e.day, e.feedback.exertion) for e in entries if e.feedback.exertion is not None]
    ax.set_ylim(-0.5, 10.5)
    ax.set_yticks([0, 5, 10])
    ax.set_ylabel("0–10")
    if pain:
        ax.plot(_dates([d for d, _ in pain]), [v for _, v in pain], marker="s", ms=4, lw=1,
                color=PAIN_COLOUR, label="pain (NRS)")
    if effort:
        ax.plot(_dates([d for d, _ in effort]), [v for _, v in effort], marker="^", ms=4,
                lw=1, ls="--", color=EXERTION_COLOUR, label="exertion (Borg CR10)")
    if not pain and not effort:
        ax.text(0.5, 0.5, "no pain or exertion reported", ha="center", va="center",
                transform=ax.transAxes, color="0.4")
    else:
        ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), fontsize="small", ncols=2)
    _date_axis(ax, [e.day for e in entries], period)
    return fig, ax


def plot_symmetry_trend(trends: Sequence[SymmetryTrend], ax: Axes | None = None,
                        period: Period | None = None) -> tuple[Figure, Axes]:
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
                color=SERIES_COLOURS[i % len(SERIES_COLOURS)],
                label=wrap(t.label, LEGEND_CHARS))
        values += index
        days += [d.date() for d in when]
    lo, hi = min(values), max(values)
    pad = max(5.0, 0.1 * (hi - lo))
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_ylabel("LSI (%)")
    _date_axis(ax, days, period)
    legend = ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=3, fontsize="small")
    for text in legend.get_texts():  # exercise names come from users
        text.set_parse_math(False)
    return fig, ax


def _totals(weeks: Sequence[Week]) -> list[Week]:
    """The weeks summed over exercises (a week prescribed when any exercise was)."""
    by: dict[dt.date, list[Week]] = {}
    for w in weeks:
        by.setdefault(w.start, []).append(w)
    out = []
    for start, ws in sorted(by.items()):
        forced = [w for w in ws if w.sessions_prescribed is not None]
        out.append(Week("all", start, sum(w.sessions for w in ws), sum(w.reps_done for w in ws),
                        sum(w.sessions_prescribed or 0 for w in forced) if forced else None,
                        sum(w.reps_prescribed or 0 for w in forced) if forced else None))
    return out


def _week_bars(ax: Axes, weeks: Sequence[Week], names: dict[str, str], reps: bool) -> None:
    """Per week and exercise side by side: the prescribed as an outlined bar, the done as a
    filled bar inside it."""
    ids = sorted({w.exercise_id for w in weeks})
    slot = 6.0 / max(1, len(ids))
    once = legend_once()
    for k, ex_id in enumerate(ids):
        mine = [w for w in weeks if w.exercise_id == ex_id]
        colour = SERIES_COLOURS[k % len(SERIES_COLOURS)]
        x = [dt.datetime.combine(w.start, dt.time(12)) + dt.timedelta(days=k * slot)
             for w in mine]
        done = [w.reps_done if reps else w.sessions for w in mine]
        presc = [(w.reps_prescribed if reps else w.sessions_prescribed) for w in mine]
        px = [xi for xi, p in zip(x, presc) if p]
        pv = [p for p in presc if p]
        if pv:
            ax.bar(_dates(px), pv, width=slot * 0.95, align="edge", facecolor="none",
                   edgecolor=PRESCRIBED_COLOUR, lw=1.1, ls="--", zorder=3,
                   label=once("prescribed (outline)"))
        ax.bar(_dates([xi + dt.timedelta(days=slot * 0.15) for xi in x]), done,
               width=slot * 0.65, align="edge", color=colour, zorder=2,
               label=wrap(names.get(ex_id, ex_id) + " done", LEGEND_CHARS))
    ax.set_ylabel("reps" if reps else "sessions")
    if not reps:
        cast(MaxNLocator, ax.yaxis.get_major_locator()).set_params(integer=True)
    legend = ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=3, fontsize="small")
    for text in legend.get_texts():  # exercise names come from users
        text.set_parse_math(False)


def plot_adherence(weeks: Sequence[Week], names: dict[str, str], axes: Sequence[Axes],
                   period: Period | None = None) -> None:
    """Sessions (first axes) and reps (second) per calendar week, done vs prescribed."""
    if period is not None and weeks:  # the last week's bars whole
        period = (min(period[0], min(w.start for w in weeks)),
                  max(period[1], max(w.start for w in weeks) + dt.timedelta(days=6)))
    for ax, reps in zip(axes, (False, True)):
        ax.set_title("Repetitions per week: done vs prescribed" if reps else
                     "Sessions per week: done vs prescribed", loc="left", pad=LEGEND_PAD)
        if not weeks:
            _empty(ax, "no weeks in this period")
            continue
        _week_bars(ax, weeks, names, reps)
        _date_axis(ax, [w.start for w in weeks], period)


def plot_sessions_per_week(weeks: Sequence[Week], ax: Axes | None = None) -> tuple[Figure, Axes]:
    """Sessions done in each calendar week against those prescribed (all exercises)."""
    fig, ax = _axes(ax, (8.0, 2.5))
    ax.set_title("Sessions per week", loc="left", pad=LEGEND_PAD)
    if not weeks:
        _empty(ax, "no weeks in this period")
        return fig, ax
    _week_bars(ax, _totals(weeks), {"all": "all exercises"}, reps=False)
    _date_axis(ax, [w.start for w in weeks])
    return fig, ax


def plot_reps_vs_prescribed(weeks: Sequence[Week], ax: Axes | None = None) -> tuple[Figure, Axes]:
    """Reps done per week against the reps prescribed for that week (all exercises)."""
    fig, ax = _axes(ax, (8.0, 2.8))
    ax.set_title("Repetitions per week: done vs prescribed", loc="left", pad=LEGEND_PAD)
    if not weeks:
        _empty(ax, "no weeks in this period")
        return fig, ax
    _week_bars(ax, _totals(weeks), {"all": "all exercises"}, reps=True)
    _date_axis(ax, [w.start for w in weeks])
    return fig, ax


def plot_angle_trace(trace: Trace, ax: Axes | None = None) -> tuple[Figure, Axes]:
    """A session's smoothed primary angle with rep boundaries and the target band."""
    fig, ax = _axes(ax, (8.0, 3.0))
    ax.set_title(wrap(trace.label, TITLE_CHARS), loc="left", parse_math=False,
                 pad=LEGEND_PAD)
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
    ax.set_yticks(y, [wrap(p.exercise_name, 24) for p in pairs])
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
    ax.set_yticks(range(len(rows)), [wrap(h.label, 24) for h in rows])
    for label in ax.get_yticklabels():
        label.set_parse_math(False)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.invert_yaxis()
    ax.set_xlabel("peak angle (°)")
    ax.grid(axis="x")
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=4, fontsize="small")
    return fig, ax
