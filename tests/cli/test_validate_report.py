"""Layer 3: ``rehab validate`` on one or more manifests: the per-exercise table, and with
``--out`` the validation report (validation.json/.csv/.html/.pdf), checked for content.

The real manifests' counts may change with the counting rules, so on them only the
consistency between the printed tables, the JSON, the HTML and the PDF is asserted; the
synthetic manifest has known counts and is asserted exactly. The plot's library function
is checked on its drawing (spans, colours by side) at the end.
"""

from __future__ import annotations

import json
import re
import subprocess
import types
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from rehab.analysis import analyze_sequence
from rehab.exercises import get_exercise
from rehab.sequence import save_npz
from rehab.synthetic import rep_trajectory, synthetic_sequence
from rehab.validate import ERROR_BINS, ClipResult, ClipTrace, ManifestRow, read_manifests

Rehab = Callable[..., subprocess.CompletedProcess[str]]  # the `rehab` fixture
OneLineError = Callable[..., None]  # the `assert_one_line_error` fixture

BIN_LABELS = [label for label, _, _ in ERROR_BINS] + ["failed"]
REPORT_FILES = {"validation.json", "validation.csv", "validation.html", "validation.pdf"}


# --- reading the outputs -------------------------------------------------------------------

class _Page(HTMLParser):
    """The tables (by id: rows of cells of tbody and tfoot) and the images of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, dict[str, list[list[str]]]] = {}
        self.images: list[dict[str, str]] = []
        self.urls: list[str] = []
        self._table: str | None = None
        self._part = ""
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.urls += [v for k, v in a.items() if k in ("src", "href")]
        if tag == "table":
            self._table = a.get("id", "")
            self.tables[self._table] = {"thead": [], "tbody": [], "tfoot": []}
        elif tag in ("thead", "tbody", "tfoot"):
            self._part = tag
        elif tag == "tr" and self._table is not None:
            self.tables[self._table][self._part].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "img":
            self.images.append(a)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._table is not None:
            self.tables[self._table][self._part][-1].append("".join(self._cell))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def read_html(path: Path) -> tuple[str, _Page]:
    text = path.read_text(encoding="utf-8")
    page = _Page()
    page.feed(text)
    return text, page


def pdf_pages(path: Path) -> int:
    data = path.read_bytes()
    assert data.startswith(b"%PDF")
    return len(re.findall(rb"/Type\s*/Page\b(?!s)", data))


def printed_exercise_table(stdout: str) -> dict[str, list[str]]:
    """The per-exercise table that ``rehab validate`` prints: exercise -> its cells."""
    lines = stdout.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.split()[:2] == ["exercise", "clips"])
    assert lines[start].split() == ["exercise", "clips", "exact", "within", "one", "over",
                                    "under", "failed", "nMAE"]
    rows = {}
    for ln in lines[start + 1:]:
        if not ln.strip():
            break
        cells = ln.split()
        rows[cells[0]] = cells[1:]
    return rows


def totals_line(stdout: str) -> str:
    return next(ln for ln in stdout.splitlines() if ln.startswith("exact: "))


def expected_bin(error: int) -> str:
    return ("<=-3" if error <= -3 else ">=+3" if error >= 3 else
            "0" if error == 0 else f"{error:+d}")


def check_consistent(out: Path, stdout: str, rows: list[ManifestRow]) -> dict:
    """Everything ``rehab validate --out`` wrote agrees with the clips it counted; returns
    the JSON."""
    assert REPORT_FILES <= {p.name for p in out.iterdir()}
    doc = json.loads((out / "validation.json").read_text())
    clips = doc["clips"]
    assert [c["file"] for c in clips] == [str(r.path) for r in rows]
    assert doc["n"] == len(rows)
    ok = [c for c in clips if c["reps_pred"] is not None]
    assert doc["failed"] == len(clips) - len(ok)
    assert doc["exact"] == sum(c["reps_pred"] == c["reps_true"] for c in ok)

    # by exercise: recomputed from the clips
    exercises = sorted({r.exercise for r in rows})
    assert [s["exercise"] for s in doc["by_exercise"]] == exercises
    for s in doc["by_exercise"]:
        mine = [c for c in clips if c["exercise"] == s["exercise"]]
        errs = [c["reps_pred"] - c["reps_true"] for c in mine if c["reps_pred"] is not None]
        assert s["clips"] == len(mine)
        assert s["exact"] == sum(e == 0 for e in errs)
        assert s["within_one"] == sum(abs(e) <= 1 for e in errs)
        assert s["over"] == sum(e > 0 for e in errs)
        assert s["under"] == sum(e < 0 for e in errs)
        assert s["failed"] == len(mine) - len(errs)
        nmae = [abs(c["reps_pred"] - c["reps_true"]) / max(1, c["reps_true"])
                if c["reps_pred"] is not None else 1.0 for c in mine]
        assert s["normalised_mae"] == pytest.approx(sum(nmae) / len(nmae))
    assert sum(s["clips"] for s in doc["by_exercise"]) == doc["n"]
    assert sum(s["exact"] for s in doc["by_exercise"]) == doc["exact"]
    assert sum(s["within_one"] for s in doc["by_exercise"]) == doc["within_one"]

    # the confusion: every bin in order, each clip in the bin of its count error
    assert [b["count_error"] for b in doc["confusion"]] == BIN_LABELS
    want: dict[str, list[str]] = {label: [] for label in BIN_LABELS}
    for c in clips:
        err = None if c["reps_pred"] is None else c["reps_pred"] - c["reps_true"]
        want["failed" if err is None else expected_bin(err)].append(c["file"])
    assert {b["count_error"]: b["files"] for b in doc["confusion"]} == want
    assert all(b["clips"] == len(b["files"]) for b in doc["confusion"])

    # printed: the per-exercise table after the per-clip table, then the totals line
    printed = printed_exercise_table(stdout)
    assert list(printed) == exercises
    for s in doc["by_exercise"]:
        assert printed[s["exercise"]] == [str(s["clips"]), str(s["exact"]),
                                          str(s["within_one"]), str(s["over"]),
                                          str(s["under"]), str(s["failed"]),
                                          f"{s['normalised_mae']:.3f}"]
    lines = stdout.splitlines()
    last_clip = max(i for i, ln in enumerate(lines) if ln.startswith(rows[-1].label + " "))
    ex_header = next(i for i, ln in enumerate(lines) if ln.split()[:2] == ["exercise", "clips"])
    assert last_clip < ex_header < lines.index(totals_line(stdout))
    assert totals_line(stdout).startswith(f"exact: {doc['exact']}/{doc['n']} (")
    assert f"within one: {doc['within_one']}/{doc['n']} (" in totals_line(stdout)

    # the HTML: self-contained, a row per exercise, one plot per counted clip
    text, page = read_html(out / "validation.html")
    assert "http://" not in text and "https://" not in text
    assert all(u.startswith("data:image/png;base64,") for u in page.urls), page.urls
    by_ex = page.tables["by-exercise-table"]
    assert [r[0] for r in by_ex["tbody"]] == exercises
    assert by_ex["tfoot"][0][:2] == ["all", str(doc["n"])]
    conf = page.tables["confusion-table"]["tbody"]
    nonempty_failed = ["failed"] if doc["failed"] else []
    assert [r[1] for r in conf] == [str(b["clips"]) for b in doc["confusion"]
                                    if b["count_error"] != "failed" or nonempty_failed]
    clip_rows = page.tables["clips-table"]["tbody"]
    assert len(clip_rows) == len(rows)
    for r, c in zip(clip_rows, clips):
        assert r[4] == ("-" if c["reps_pred"] is None else str(c["reps_pred"]))
        assert r[5].startswith("error: ") == (c["reps_pred"] is None)
    labels = {str(r.path): r.label for r in rows}
    assert [img["alt"] for img in page.images] == [
        f"{labels[c['file']]} — {c['exercise']} — true {c['reps_true']}, counted {c['reps_pred']}"
        for c in ok]
    assert "Repetition counting validation" in text
    assert all(f"<li>{m}</li>" in text for m in doc["manifests"])

    # the PDF: a page per counted clip after the summary pages
    assert pdf_pages(out / "validation.pdf") >= len(ok) + 1
    return doc


# --- real manifests ------------------------------------------------------------------------

def test_report_on_both_real_manifests(shared_data: Path, tmp_path: Path, rehab: Rehab) -> None:
    manifests = [shared_data / "landmarks" / "manifest.csv",
                 shared_data / "landmarks_rehab" / "manifest.csv"]
    out = tmp_path / "report"
    res = rehab("validate", *map(str, manifests), "--out", str(out), check=False)
    doc = check_consistent(out, res.stdout, read_manifests(manifests))
    assert res.returncode == (1 if doc["failed"] else 0), res.stderr
    assert doc["manifests"] == [str(m) for m in manifests]
    assert doc["n"] == sum(len(m.read_text().strip().splitlines()) - 1 for m in manifests)


# --- a synthetic set with known counts -----------------------------------------------------

def _squat(n: int, path: Path) -> Path:
    t, knee = rep_trajectory(n, 30.0, rest=0.0, peak=100.0)
    path.parent.mkdir(parents=True, exist_ok=True)
    return save_npz(synthetic_sequence(t, {"knee_flexion": knee, "hip_flexion": 0.8 * knee}),
                    path)


def _knee_extension(n: int, path: Path) -> Path:
    t, knee = rep_trajectory(n, 30.0, rest=90.0, peak=5.0)
    return save_npz(synthetic_sequence(t, {"knee_flexion": knee, "hip_flexion": 90.0}), path)


def test_synthetic_report_bins_each_error_and_lists_the_failed_clip(
        tmp_path: Path, rehab: Rehab) -> None:
    # manifest a: squats of 3 (labelled 3: exact) and 4 reps (labelled 2: +2);
    # manifest b (another folder): 2 squats labelled 5 (-3), 6 knee extensions (exact)
    # and a missing file (failed)
    _squat(3, tmp_path / "a" / "sq3.npz")
    _squat(4, tmp_path / "a" / "clips" / "sq4.npz")
    _squat(2, tmp_path / "b" / "sq2.npz")
    _knee_extension(6, tmp_path / "b" / "ke6.npz")
    (tmp_path / "a" / "m.csv").write_text(
        "file,exercise,reps_true\nsq3.npz,squat,3\nclips/sq4.npz,squat,2\n")
    (tmp_path / "b" / "m.csv").write_text(
        "file,exercise,reps_true,side\nsq2.npz,squat,5,\nke6.npz,knee_extension,6,right\n"
        "missing.npz,squat,3,\n")
    manifests = [tmp_path / "a" / "m.csv", tmp_path / "b" / "m.csv"]
    out = tmp_path / "out"
    res = rehab("validate", *map(str, manifests), "--out", str(out), check=False)
    assert res.returncode == 1, res.stderr  # a clip failed
    doc = check_consistent(out, res.stdout, read_manifests(manifests))

    assert [c["reps_pred"] for c in doc["clips"]] == [3, 4, 2, 6, None]
    assert (doc["n"], doc["exact"], doc["within_one"], doc["failed"]) == (5, 2, 2, 1)
    files = {Path(c["file"]).name: c["file"] for c in doc["clips"]}
    bins = {b["count_error"]: b["files"] for b in doc["confusion"]}
    assert bins == {"<=-3": [files["sq2.npz"]], "-2": [], "-1": [], "0": [files["sq3.npz"],
                    files["ke6.npz"]], "+1": [], "+2": [files["sq4.npz"]], ">=+3": [],
                    "failed": [files["missing.npz"]]}
    squat, = (s for s in doc["by_exercise"] if s["exercise"] == "squat")
    assert squat == {"exercise": "squat", "clips": 4, "exact": 1, "within_one": 1, "over": 1,
                     "under": 1, "failed": 1,
                     "normalised_mae": pytest.approx((0 + 2 / 2 + 3 / 5 + 1) / 4)}
    knee, = (s for s in doc["by_exercise"] if s["exercise"] == "knee_extension")
    assert (knee["clips"], knee["exact"], knee["over"], knee["under"]) == (1, 1, 0, 0)

    # printed
    assert printed_exercise_table(res.stdout)["squat"] == ["4", "1", "1", "1", "1", "1",
                                                          "0.650"]
    assert totals_line(res.stdout) == ("exact: 2/5 (40%)   within one: 2/5 (40%)   "
                                       "normalised MAE: 0.520   failed: 1")
    clip_lines = {ln.split()[0]: ln for ln in res.stdout.splitlines() if ".npz" in ln}
    assert clip_lines["clips/sq4.npz"].endswith("over by 2")
    assert clip_lines["sq2.npz"].endswith("under by 3")
    assert "error: " in clip_lines["missing.npz"] and "no such file" in clip_lines["missing.npz"]

    # the report: the failed clip is a row with its error, not a plot
    text, page = read_html(out / "validation.html")
    failed_row, = (r for r in page.tables["clips-table"]["tbody"] if r[0] == "missing.npz")
    assert failed_row[4] == "-" and "no such file" in failed_row[5]
    assert len(page.images) == 4
    assert not any("missing.npz" in img["alt"] for img in page.images)
    conf = {r[0]: r for r in page.tables["confusion-table"]["tbody"]}
    assert conf["≤ -3"][1:] == ["1", "sq2.npz"]
    assert conf["+2"][1:] == ["1", "clips/sq4.npz"]
    assert conf["0"][1:] == ["2", "sq3.npz, ke6.npz"]
    assert conf["failed"][1:] == ["1", "missing.npz"]
    assert conf["-1"][1:] == ["0", ""]
    assert pdf_pages(out / "validation.pdf") >= 4 + 1


def test_validate_refuses_a_manifest_given_twice(tmp_path: Path, rehab: Rehab,
                                                 assert_one_line_error: OneLineError) -> None:
    _squat(2, tmp_path / "sq2.npz")
    m = tmp_path / "m.csv"
    m.write_text("file,exercise,reps_true\nsq2.npz,squat,2\n")
    assert_one_line_error(rehab("validate", str(m), str(m), "--out", str(tmp_path / "o"),
                                check=False), "given twice")
    assert not (tmp_path / "o").exists()


def test_without_out_only_the_tables_are_printed(tmp_path: Path, rehab: Rehab) -> None:
    _squat(2, tmp_path / "sq2.npz")
    (tmp_path / "m.csv").write_text("file,exercise,reps_true\nsq2.npz,squat,2\n")
    res = rehab("validate", str(tmp_path / "m.csv"), cwd=tmp_path)
    assert printed_exercise_table(res.stdout) == {"squat": ["1", "1", "1", "0", "0", "0",
                                                            "0.000"]}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.csv", "sq2.npz"]


# --- what the plots keep and draw ----------------------------------------------------------

def _truncated_squat() -> object:
    """3 complete squats between the tail of one and the start of another (2 uncounted;
    as in tests/unit/test_reps.py)."""
    t, knee = rep_trajectory(5, 30.0, rest=0.0, peak=100.0, lead_s=0.0)
    start, stop = int(1.6 * 30), len(t) - int(0.6 * 30)
    seq = synthetic_sequence(t[start:stop] - t[start], {"knee_flexion": knee[start:stop]})
    return analyze_sequence(seq, get_exercise("squat"), side="right")


def _spans(ax: object) -> tuple[list[object], list[object]]:
    """(counted, uncounted) rep spans drawn on ``ax``: filled, or hatched."""
    patches = list(ax.patches)  # type: ignore[attr-defined]
    return ([p for p in patches if not p.get_hatch()], [p for p in patches if p.get_hatch()])


def test_trace_keeps_float32_copies_and_the_plot_shades_counted_and_hatches_uncounted(
        ) -> None:
    from matplotlib.colors import to_hex

    from rehab.validate import validate
    from rehab.validate_report import REP_COLOUR, plot_clip

    analysis = _truncated_squat()
    assert analysis.rep_count == 3 and len(analysis.partial) == 2  # type: ignore[attr-defined]
    row = ManifestRow(path=Path("sq.npz"), exercise="squat", reps_true=3)
    summary = validate([row], lambda r: analysis, keep_traces=True)  # type: ignore[arg-type]
    trace = summary.clips[0].trace
    assert trace is not None and not trace.alternating
    assert trace.time_s.dtype == np.float32
    (name, x), = trace.traces
    assert name == "primary" and x.dtype == np.float32
    assert not np.shares_memory(x, analysis.smoothed["primary"])  # type: ignore[attr-defined]
    np.testing.assert_allclose(x, analysis.smoothed["primary"], rtol=1e-6)  # type: ignore
    assert [s.counted for s in trace.reps].count(True) == 3
    assert validate([row], lambda r: analysis).clips[0].trace is None  # type: ignore

    fig, ax = plot_clip(summary.clips[0])
    counted, uncounted = _spans(ax)
    assert len(counted) == 3 and len(uncounted) == 2
    assert {to_hex(p.get_facecolor()) for p in counted} == {REP_COLOUR}
    assert ax.get_title(loc="left") == "sq.npz — squat — true 3, counted 3"
    assert [ln.get_label() for ln in ax.get_lines()] == ["right knee flexion"]
    with pytest.raises(ValueError, match="no trace"):
        plot_clip(ClipResult(row=row, reps_pred=None, error="boom"))


def test_alternating_clip_plots_both_sides_and_colours_reps_by_side() -> None:
    """An alternating analysis (left and right reps in turn): both sides' traces and each
    rep in its side's colour; ``primary_left``/``primary_right`` read when present."""
    from matplotlib.colors import to_hex

    from rehab.validate_report import SIDE_COLOURS, plot_clip

    base = _truncated_squat()
    sides = ["left", "right", "left"]
    reps = [types.SimpleNamespace(start_s=r.start_s, end_s=r.end_s, side=s)
            for r, s in zip(base.reps, sides)]  # type: ignore[attr-defined]
    primary = base.smoothed["primary"]  # type: ignore[attr-defined]
    alternating = types.SimpleNamespace(
        alternating=True, smoothed={"primary": primary, "primary_left": primary,
                                    "primary_right": 0.5 * primary},
        reps=reps, partial=(), sequence=base.sequence, side="left",  # type: ignore
        exercise=base.exercise, rep_count=3)  # type: ignore[attr-defined]
    trace = ClipTrace.of(alternating)  # type: ignore[arg-type]
    assert trace.alternating and [n for n, _ in trace.traces] == ["left", "right"]
    assert [s.side for s in trace.reps] == sides
    clip = ClipResult(row=ManifestRow(path=Path("alt.npz"), exercise="squat", reps_true=3),
                      reps_pred=3, side="left", trace=trace)
    fig, ax = plot_clip(clip)
    counted, uncounted = _spans(ax)
    assert uncounted == []
    assert [to_hex(p.get_facecolor()) for p in counted] == [SIDE_COLOURS[s] for s in sides]
    lines = ax.get_lines()
    assert [ln.get_label() for ln in lines] == ["left knee flexion", "right knee flexion"]
    assert [to_hex(ln.get_color()) for ln in lines] == [SIDE_COLOURS["left"],
                                                        SIDE_COLOURS["right"]]

    # without the per-side traces: the primary one, reps still by side
    alternating.smoothed = {"primary": primary}
    trace = ClipTrace.of(alternating)  # type: ignore[arg-type]
    assert [n for n, _ in trace.traces] == ["primary"]
    _, ax = plot_clip(ClipResult(row=clip.row, reps_pred=3, side="left", trace=trace))
    assert [to_hex(p.get_facecolor()) for p in _spans(ax)[0]] == [SIDE_COLOURS[s]
                                                                  for s in sides]


@pytest.mark.parametrize(("error", "label"), [
    (-7, "<=-3"), (-3, "<=-3"), (-2, "-2"), (-1, "-1"), (0, "0"), (1, "+1"), (2, "+2"),
    (3, ">=+3"), (12, ">=+3"), (None, "failed")])
def test_each_count_error_has_one_bin(error: int | None, label: str) -> None:
    from rehab.validate import error_bin

    assert error_bin(error) == label
