"""How long a year of daily sessions takes to report on.

Builds a temporary patient database with one squat session a day for 365 days (synthetic
recordings analysed by the real pipeline: 10 reps a session whose peak knee flexion rises
from about 70 to 120 degrees over the year, with day-to-day noise, pain and exertion; a few
days missed, half of them logged at home without a camera),
then times assembling the report data and rendering the PDF and the HTML.

    .venv/bin/python bench/bench_report.py [--days 365] [--keep DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from rehab.analysis import analyze_sequence
from rehab.exercises import get_exercise
from rehab.reports import build_report_data, render_report
from rehab.store import open_store
from rehab.store.models import SessionFeedback
from rehab.synthetic import synthetic_sequence

log = logging.getLogger("bench_report")

FPS = 30.0
REPS_PER_SESSION = 10


def session_sequence(peaks: np.ndarray, rng: np.random.Generator):
    """One recording: a rep to each of ``peaks`` (degrees), 2 s per rep, 1 s pauses."""
    rep_s, pause_s, lead_s = 2.0, 1.0, 1.0
    n = int(round((2 * lead_s + len(peaks) * (rep_s + pause_s)) * FPS))
    t = np.arange(n) / FPS
    knee = np.zeros(n)
    for k, peak in enumerate(peaks):
        t0 = lead_s + k * (rep_s + pause_s)
        m = (t >= t0) & (t <= t0 + rep_s)
        knee[m] = peak * 0.5 * (1 - np.cos(2 * np.pi * (t[m] - t0) / rep_s))
    knee += rng.normal(0.0, 1.0, n)
    return synthetic_sequence(t, {"knee_flexion": knee, "hip_flexion": 0.8 * knee})


def build_year(db: Path, days: int, seed: int = 0) -> int:
    """Fill ``db`` with ``days`` of daily sessions; returns the number of sessions."""
    rng = np.random.default_rng(seed)
    exercise = get_exercise("squat")
    start = dt.date.today() - dt.timedelta(days=days - 1)
    n = 0
    with open_store(db) as store:
        store.add_patient("year", "A. Patient", affected_side="right",
                          notes="Synthetic year of daily squats (benchmark)")
        store.prescribe("year", "squat", 90, 120, reps=10, sets=1, start=start)
        for d in tqdm(range(days), desc="sessions", unit="day"):
            day = start + dt.timedelta(days=d)
            pain = int(np.clip(round(6 - 5 * d / max(1, days - 1) + rng.normal(0, 1)), 0, 10))
            feedback = SessionFeedback(pain=pain, exertion=int(rng.integers(3, 8)))
            if rng.random() < 0.1:  # a missed day now and then, logged at home on others
                if rng.random() < 0.5:
                    store.log_session("year", "squat", day, 1, REPS_PER_SESSION, side="right",
                                      feedback=feedback)
                continue
            level = 70.0 + 50.0 * d / max(1, days - 1)
            peaks = np.clip(level + rng.normal(0.0, 4.0, REPS_PER_SESSION), 40.0, 150.0)
            analysis = analyze_sequence(session_sequence(peaks, rng), exercise, side="right")
            started = dt.datetime.combine(day, dt.time(8, 30))
            store.record_analysis("year", analysis, started, feedback=feedback)
            n += 1
    return n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--keep", type=Path, help="keep the database and reports here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("fontTools").setLevel(logging.WARNING)  # PDF font subsetting chatter
    work = Path(tempfile.mkdtemp(prefix="rehab-bench-"))
    try:
        db = work / "rehab.sqlite"
        t0 = time.perf_counter()
        n = build_year(db, args.days)
        t_build = time.perf_counter() - t0
        with open_store(db) as store:
            t0 = time.perf_counter()
            data = build_report_data(store, "year")
            t_data = time.perf_counter() - t0
        from rehab.reports.pdf import layout

        pages = layout(data)
        times = {}
        for fmt in ("pdf", "html"):
            t0 = time.perf_counter()
            out = render_report(data, work / f"report.{fmt}")
            times[fmt] = (time.perf_counter() - t0, out.stat().st_size)
        reps = sum(s.n_reps for s in data.sessions)
        files_mb = sum(f.stat().st_size for f in (work / "files").rglob("*") if f.is_file()) / 1e6
        sys.stdout.write(
            f"{n} camera sessions and {len(data.logged)} logged over {args.days} days, "
            f"{reps} counted reps, {sum(len(p.cells) for p in pages)} table cells on "
            f"{len(pages)} PDF pages "
            f"(stored in {t_build:.1f} s; database {db.stat().st_size / 1e6:.1f} MB, "
            f"session files {files_mb:.0f} MB)\n"
            f"report data: {t_data:.2f} s\n"
            f"PDF:  {times['pdf'][0]:.2f} s ({times['pdf'][1] / 1e3:.0f} kB)\n"
            f"HTML: {times['html'][0]:.2f} s ({times['html'][1] / 1e3:.0f} kB)\n")
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            for f in ("report.pdf", "report.html"):
                shutil.copy2(work / f, args.keep / f)
            log.info("reports copied to %s", args.keep)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
