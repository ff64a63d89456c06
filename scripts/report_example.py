"""Render the example progress report shown in the README from real analyses.

Builds a patient history in a temporary database from real recordings in ../shared/data
(landmarks extracted by MediaPipe from people exercising, and the demo video analysed by the
real model): squats and shoulder abductions from October to December 2026 with the
patient's pain, exertion and notes, sessions logged at home without a camera, two
prescriptions of 3 sessions a week, 3 x 10, and clinician notes. Then renders the PDF and the
HTML report and writes their pictures:

- ``report_page1.png``, ``report_page2.png``, ...: PDF pages (``pdftoppm -r 60``; the pages
  asked for with ``--pages``);
- ``report_html.png``: the top of the HTML report (headless Chromium, 1200 x 3000).

    .venv/bin/python scripts/report_example.py [--out docs/images] [--pages 1,2,3]
                                               [--keep DIR] [--no-video]
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
TODAY = dt.date(2026, 12, 1)

log = logging.getLogger("report_example")


def _at(day: str, clock: str | None = None) -> dt.datetime:
    """``2026-10-06`` at ``09:10`` (no clock: a session stored with its date only)."""
    return dt.datetime.fromisoformat(f"{day}T{clock or '00:00'}:00")


def build_history(db: Path, video: bool) -> None:
    """The example patient ``p001`` in ``db``."""
    from rehab.pipeline import analyze
    from rehab.store import open_store
    from rehab.store.models import SessionFeedback as F

    lm, lm_rehab = DATA / "landmarks", DATA / "landmarks_rehab"
    a = {name: analyze(path, exercise, side=side, progress=False)
         for name, path, exercise, side in (
             ("squat_01", lm / "squat_01.npz", "squat", "right"),
             ("squat_02", lm / "squat_02.npz", "squat", "right"),
             ("abd_05", lm / "shoulder_abduction_05.npz", "shoulder_abduction", "right"),
             ("abd_16", lm_rehab / "shoulder_abduction_16.npz", "shoulder_abduction", "right"))}
    if video:
        log.info("analysing %s with the pose model", "videos/shoulder_abduction.mp4")
        a["abd_video"] = analyze(DATA / "videos" / "shoulder_abduction.mp4",
                                 "shoulder_abduction", side="right", progress=False)
    else:
        a["abd_video"] = a["abd_05"]
    with open_store(db) as store:
        store.add_patient("p001", "Example Patient", affected_side="right",
                          notes="Right knee: ACL reconstruction 2026-09-14. Right shoulder: "
                                "stiffness after a fall; overhead reach limited.")
        store.prescribe("p001", "squat", 90, 120, reps=10, sets=3, start=dt.date(2026, 10, 5),
                        days_per_week=3)
        store.prescribe("p001", "shoulder_abduction", 150, 180, reps=10, sets=3,
                        start=dt.date(2026, 10, 5), days_per_week=3)
        rec = store.record_analysis
        rec("p001", a["squat_01"], _at("2026-10-06", "09:10"),
            feedback=F(pain=5, exertion=6, note="knee stiff at the bottom", sets=1))
        rec("p001", a["abd_05"], _at("2026-10-06", "09:25"),
            feedback=F(pain=4, exertion=5, sets=1))
        rec("p001", a["squat_02"], _at("2026-10-20", "10:00"),
            feedback=F(pain=4, exertion=5, sets=2))
        rec("p001", a["abd_16"], _at("2026-10-20", "10:15"),
            feedback=F(pain=3, exertion=4, note="shoulder ached the evening after"))
        rec("p001", a["squat_01"], _at("2026-11-12"),  # recorded with its date only
            feedback=F(pain=3, exertion=6))
        last = rec("p001", a["squat_02"], _at("2026-11-30", "09:05"),
                   feedback=F(pain=2, exertion=6, note="deeper than last time", sets=3))
        rec("p001", a["abd_video"], _at("2026-11-30", "09:20"),
            feedback=F(pain=2, exertion=5, sets=3))
        for day, ex, sets, pain, note in (
                ("2026-10-08", "squat", 3, 4, ""), ("2026-10-13", "squat", 2, 4, "tired"),
                ("2026-10-15", "shoulder_abduction", 3, 3, ""),
                ("2026-10-27", "squat", 3, 3, ""), ("2026-11-03", "squat", 3, 3, ""),
                ("2026-11-05", "shoulder_abduction", 3, 2, "easier with the band"),
                ("2026-11-10", "squat", 3, 2, ""), ("2026-11-19", "squat", 3, 2, ""),
                ("2026-11-24", "shoulder_abduction", 3, 2, "")):
            store.log_session("p001", ex, dt.date.fromisoformat(day), sets, 10, side="right",
                              feedback=F(pain=pain, exertion=5, note=note))
        store.add_clinician_note("p001", "Squat depth past the band on 6 Oct: cue to stop at "
                                 "the chair height.", day=dt.date(2026, 10, 6))
        store.add_clinician_note("p001", "Knee within the target band; progress to a single-"
                                 "leg squat next visit.", day=dt.date(2026, 11, 30),
                                 session_id=last)


def screenshot(html: Path, png: Path) -> None:
    """The top of ``html`` as seen in headless Chromium (1200 x 3000)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("chromium not found (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                        "--disable-quic", "--no-first-run", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync",
                        f"--user-data-dir={profile}", f"--screenshot={png}",
                        "--window-size=1200,3000", html.resolve().as_uri()],
                       check=True, capture_output=True, timeout=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images")
    parser.add_argument("--pages", default="1,2,3", help="PDF pages to picture (1-based)")
    parser.add_argument("--keep", type=Path, help="also keep the PDF and HTML here")
    parser.add_argument("--no-video", action="store_true",
                        help="skip the video (no pose model run): a landmarks file instead")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("fontTools").setLevel(logging.WARNING)
    if not DATA.is_dir():
        raise SystemExit(f"{DATA}: the shared data folder is missing")
    from rehab.reports import build_report_data, render_report
    from rehab.store import open_store

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rehab-example-") as tmp:
        work = Path(tmp)
        build_history(work / "rehab.sqlite", video=not args.no_video)
        with open_store(work / "rehab.sqlite") as store:
            data = build_report_data(store, "p001", today=TODAY)
        pdf = render_report(data, work / "report.pdf")
        html = render_report(data, work / "report.html")
        subprocess.run(["pdftoppm", "-r", "60", "-png", str(pdf), str(work / "page")],
                       check=True)
        pages = sorted(work.glob("page-*.png"), key=lambda p: int(p.stem.split("-")[1]))
        log.info("%d PDF pages", len(pages))
        for k in (int(x) for x in args.pages.split(",")):
            shutil.copy(pages[k - 1], args.out / f"report_page{k}.png")
        screenshot(html, args.out / "report_html.png")
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            for f in (pdf, html, *pages):
                shutil.copy(f, args.keep / f.name)
    for f in sorted(args.out.glob("report_*.png")):
        log.info("%s (%d kB)", f, f.stat().st_size // 1000)
    return 0


if __name__ == "__main__":
    sys.exit(main())
