"""The overlay's drawing, checked on its geometry (the rectangles each function returns) and
on pixels of synthetic frames: panels clear of the body, the labelled gauge, the target
wedge, the peak-against-target lines and the summary."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rehab.exercises import get_exercise
from rehab.model import Rep
from rehab.overlay import (
    GREY,
    MET,
    NOT_MET,
    SKY_BLUE,
    Placer,
    Rect,
    Summary,
    annotate_frame,
    body_boxes,
    draw_angle_arc,
    draw_gauge,
    draw_summary,
    gauge_layout,
    gauge_span,
    landmark_box,
    overlap,
    panel_lines,
    rep_in_progress,
    status_lines,
    verdict,
    wrap,
)
from rehab.synthetic import synthetic_sequence

W, H = 1280, 720
TARGET = (140.0, 180.0)
LINES = [("reps 3 / 10", (255, 255, 255)), ("peak 84 / target 140-180", NOT_MET),
         ("ROM 120  score 85  good", (255, 255, 255))]


def figure(arm_deg: float, center_x: float) -> tuple[np.ndarray, np.ndarray]:
    """Pixel landmarks (33, 2) and visibility of a front-view figure with both arms
    abducted ``arm_deg``, moved so that its hips are at ``center_x`` (fraction of W)."""
    seq = synthetic_sequence(np.array([0.0]), {"shoulder_flexion": arm_deg}, view="front",
                             width=W, height=H)
    pts = seq.landmarks[0, :, :2].astype(np.float64) * np.array([W, H], np.float64)
    pts[:, 0] += center_x * W - 0.5 * (pts[23, 0] + pts[24, 0])
    return pts, seq.visibility[0].astype(np.float64)


def frame() -> np.ndarray:
    return np.full((H, W, 3), 120, np.uint8)


def on_frame(r: Rect) -> Rect:
    return max(0, r[0]), max(0, r[1]), min(W, r[2]), min(H, r[3])


# --- 1. panels never cover the body --------------------------------------------------------

@pytest.mark.parametrize("arm_deg, center_x", [(0.0, 0.2), (0.0, 0.8), (170.0, 0.5),
                                               (170.0, 0.3), (30.0, 0.25), (45.0, 0.7)],
                         ids=["left", "right", "raised", "raised-left", "low-left", "out-right"])
def test_panel_and_gauge_keep_clear_of_the_body(arm_deg: float, center_x: float) -> None:
    pts, vis = figure(arm_deg, center_x)
    body = landmark_box(pts, vis)
    assert body is not None
    layout = annotate_frame(frame(), pts, vis, "shoulder_abduction", "left", 120.0, TARGET,
                            LINES, Placer())
    assert layout.panel is not None
    assert overlap(layout.panel, body) == 0, (layout.panel, body)
    assert overlap(layout.gauge.rect, body) == 0, (layout.gauge.rect, body)
    assert overlap(layout.panel, layout.gauge.rect) == 0
    for r in (layout.panel, layout.gauge.rect):
        assert 0 <= r[0] < r[2] <= W and 0 <= r[1] < r[3] <= H


OLD_LINES = ["Shoulder abduction  reps 3", "shoulder abduction 120 deg",
             "last rep: ROM 120  score 85  good"]


@pytest.mark.parametrize("arm_deg, center_x", [(0.0, 0.2), (170.0, 0.5), (170.0, 0.3),
                                               (30.0, 0.25)])
def test_the_old_top_left_panel_covered_these_bodies(arm_deg: float, center_x: float) -> None:
    """The cases above where the panel of before (at the top-left, 24 px a character and
    48 px a line at this size, with the exercise and the angle on their own lines) lay on
    the body."""
    pts, vis = figure(arm_deg, center_x)
    body = landmark_box(pts, vis)
    assert body is not None
    old = (0, 0, max(len(t) for t in OLD_LINES) * 24 + 30, 48 * len(OLD_LINES) + 20)
    assert overlap(old, body) > 0


def test_where_there_is_no_room_the_tracked_limb_is_kept_clearest() -> None:
    """Arms out to both sides fill the frame's width: the panel may lie on the body's box
    but not on the tracked (left: image right) arm."""
    pts, vis = figure(90.0, 0.5)
    pts[:, 0] = 0.5 * W + (pts[:, 0] - 0.5 * W) * 2.6  # a wide figure close to the camera
    boxes = body_boxes(pts, vis, "shoulder_abduction", "left", 0)
    limb = boxes[1][0]
    layout = annotate_frame(frame(), pts, vis, "shoulder_abduction", "left", 90.0, TARGET,
                            LINES, Placer())
    assert layout.panel is not None and overlap(layout.panel, on_frame(boxes[0][0])) > 0
    assert overlap(layout.panel, limb) == 0


def test_a_panel_stays_put_until_the_body_comes_under_it() -> None:
    placer = Placer()
    first = annotate_frame(frame(), *figure(0.0, 0.8), "shoulder_abduction", "left", 10.0,
                           TARGET, LINES, placer).panel
    assert first is not None and first[0] < W // 2  # body on the right: panel on the left
    # the body moves to the middle: the panel is still clear, so it stays
    again = annotate_frame(frame(), *figure(0.0, 0.5), "shoulder_abduction", "left", 10.0,
                           TARGET, LINES, placer).panel
    assert again == first
    # the body moves left, under the panel: it moves
    moved = annotate_frame(frame(), *figure(0.0, 0.2), "shoulder_abduction", "left", 10.0,
                           TARGET, LINES, placer).panel
    assert moved is not None and moved != first and moved[0] > W // 2
    # nobody in view: everything stays where it was
    kept = annotate_frame(frame(), None, None, "shoulder_abduction", "left", math.nan,
                          TARGET, LINES, placer).panel
    assert kept == moved


def test_panel_background_is_semi_transparent() -> None:
    img = np.full((H, W, 3), 200, np.uint8)
    layout = annotate_frame(img, *figure(0.0, 0.8), "shoulder_abduction", "left", 10.0,
                            TARGET, LINES, Placer())
    x0, y0, x1, y1 = layout.panel or (0, 0, 0, 0)
    corner = img[y0 + 2, x1 - 3]  # inside the box, away from the text
    assert 40 < int(corner[0]) < 200  # darkened, not opaque


# --- 2. the labelled gauge --------------------------------------------------------------------

def test_gauge_span_and_ticks() -> None:
    assert gauge_span((140, 180)) == (0.0, 180.0, 30.0)
    assert gauge_span((80, 130)) == (0.0, 150.0, 30.0)
    assert gauge_span((0, 15)) == (0.0, 30.0, 10.0)
    lay = gauge_layout((W, H), (100, 50), "shoulder abduction", TARGET, 84.0, 1.0)
    assert [v for v, _, _ in lay.ticks] == [0, 30, 60, 90, 120, 150, 180]
    ys = [y for _, y, _ in lay.ticks]
    assert ys == sorted(ys, reverse=True) and ys[0] == lay.bar[3] and ys[-1] == lay.bar[1]
    for _, y, r in lay.ticks:  # each number left of the bar, level with its tick
        assert r[2] <= lay.bar[0] and r[1] <= y <= r[3]
    # the band from 180 (top) to 140 on the bar
    assert lay.band[1] == lay.bar[1] and lay.band[3] == ys[0] - round(140 / 180 * (ys[0] - ys[-1]))
    assert [t for t, _ in lay.labels] == ["shoulder", "abduction", "target 140-180"]
    assert lay.marker is not None
    ym, vr = lay.marker
    assert ys[2] > ym > ys[3]  # 84 between the 60 and 90 ticks (values go up)
    assert vr[0] >= lay.bar[2]  # the value's number right of the bar
    for _, r in lay.labels:
        assert r[3] <= lay.bar[1]
    inside = [lay.bar, lay.band, vr] + [r for _, _, r in lay.ticks] + [r for _, r in lay.labels]
    for r in inside:
        assert lay.rect[0] <= r[0] and r[2] <= lay.rect[2]
        assert lay.rect[1] <= r[1] and r[3] <= lay.rect[3]


def test_gauge_draws_the_band_and_the_marker() -> None:
    img = frame()
    lay = draw_gauge(img, 84.0, TARGET, "knee flexion")
    x = (lay.band[0] + lay.band[2]) // 2
    y = (lay.band[1] + lay.band[3]) // 2
    assert tuple(img[y, x]) == SKY_BLUE
    assert lay.marker is not None
    assert tuple(img[lay.marker[0], (lay.bar[0] + lay.bar[2]) // 2]) == (66, 228, 240)
    assert [t for t, _ in lay.labels] == ["knee flexion", "target 140-180"]
    no_value = gauge_layout((W, H), (0, 0), "knee flexion", TARGET, math.nan, 1.0)
    assert no_value.marker is None


# --- 3. the target wedge ----------------------------------------------------------------------

def test_target_wedge_is_large_opaque_and_labelled() -> None:
    img = frame()
    vertex = np.array([640.0, 400.0])
    down = np.array([0.0, 1.0])
    elbow = np.array([760.0, 400.0])  # the arm out to the image right: 90 deg
    wedge = draw_angle_arc(img, vertex, down, elbow, 90.0, TARGET)
    assert wedge is not None and wedge.radius >= 75
    # the band's middle (160 deg from down, towards the arm) is shaded blue
    mid = math.radians(0.5 * sum(wedge.band_deg))
    px = img[int(400 + 0.6 * wedge.radius * math.sin(mid)),
             int(640 + 0.6 * wedge.radius * math.cos(mid))].astype(int)
    assert px[0] > 170 and px[0] - px[2] > 60  # blue well over red: 60% opaque
    assert wedge.label is not None
    lx = 0.5 * (wedge.label[0] + wedge.label[2]) - 640
    ly = 0.5 * (wedge.label[1] + wedge.label[3]) - 400
    assert wedge.radius < math.hypot(lx, ly) < 2.5 * wedge.radius  # just outside the wedge
    # outlined: a white edge along the band's end ray
    a = math.radians(wedge.band_deg[0])
    edge = img[int(round(400 + 0.5 * wedge.radius * math.sin(a))),
               int(round(640 + 0.5 * wedge.radius * math.cos(a)))]
    assert edge.min() > 200


# --- 4. the peak against the target -----------------------------------------------------------

def test_status_lines_headline_the_peak() -> None:
    rep = Rep(index=1, kind="complete", start_frame=0, peak_frame=10, end_frame=20, start_s=0,
              peak_s=0.3, end_s=0.7, min_deg=5, max_deg=100, rom_deg=95, peak_deg=100,
              target_met=True, duration_s=0.7, time_to_peak_s=0.3, tracked_fraction=1,
              compensations={}, score=88, flags=(), quality="good")
    short = Rep(**{**rep.__dict__, "peak_deg": 70.0, "target_met": False, "quality": "poor"})
    band = (90.0, 120.0)
    assert status_lines("reps 0", band, "low", None, None)[1:] == [
        ("target peak 90-120 deg", (255, 255, 255))]
    assert status_lines("reps 0", band, "low", 84.0, None)[1] == \
        ("peak 84 / target 90-120", NOT_MET)
    assert status_lines("reps 0", band, "low", 95.0, None)[1] == \
        ("peak 95 in target 90-120", MET)
    assert status_lines("reps 0", band, "low", 130.0, None)[1] == \
        ("peak 130 past target 90-120", NOT_MET)
    assert status_lines("reps 1", band, "low", None, rep)[1:] == [
        ("last peak 100: target met", MET), ("ROM 95  score 88  good", (255, 255, 255))]
    assert status_lines("reps 1", band, "low", None, short)[1:] == [
        ("last peak 70: short of 90-120", NOT_MET), ("ROM 95  score 88  poor", GREY)]
    assert status_lines("reps 1", band, "low", 60.0, short)[1:] == [
        ("peak 60 / target 90-120", NOT_MET), ("last 70 short  poor", GREY)]
    # rest high (knee extension: the rep goes down towards 0)
    assert verdict(40.0, (0.0, 15.0), "high") == "short"
    assert verdict(10.0, (0.0, 15.0), "high") == "met"
    assert verdict(-5.0, (0.0, 15.0), "high") == "beyond"


def test_the_peak_so_far_of_the_rep_in_progress(squat_analysis) -> None:  # type: ignore[no-untyped-def]
    a = squat_analysis(n_reps=2, peak=100.0)
    value = a.smoothed["primary"]
    rep = a.reps[0]
    assert rep_in_progress(a.reps, rep.start_frame - 1, value, "low") is None
    mid = (rep.start_frame + rep.peak_frame) // 2
    got = rep_in_progress(a.reps, mid, value, "low")
    assert got is not None and got[0] is rep
    assert got[1] == pytest.approx(np.nanmax(value[rep.start_frame:mid + 1]))
    assert got[1] < rep.peak_deg - 10
    after = rep_in_progress(a.reps, rep.peak_frame + 2, value, "low")
    assert after is not None and after[1] == rep.peak_deg
    lines = panel_lines(a, 0, float(value[mid]), None, got[1])
    assert lines[1][0] == f"peak {got[1]:.0f} / target 80-130"


# --- 6. the summary ---------------------------------------------------------------------------

def test_summary_lines_come_from_the_analysis(squat_analysis) -> None:  # type: ignore[no-untyped-def]
    a = squat_analysis(n_reps=3, peak=100.0)
    summary = Summary.of_analysis(a, reps_goal=5)
    assert summary.reps == a.reps
    texts = [t for t, _ in summary.lines()]
    median = float(np.median([r.peak_deg for r in a.reps]))
    assert texts[:5] == ["Summary: Squat, right", "3 of 5 reps",
                         "target peak 80-130 deg: met in 3 of 3",
                         f"median peak {median:.0f} deg", "quality 3 good"]
    assert texts[5:] == [f" {r.index}  peak {r.peak_deg:.0f}  met  good" for r in a.reps]
    shallow = squat_analysis(n_reps=3, peak=60.0)
    lines = Summary.of_analysis(shallow).lines()
    assert lines[1][0] == "3 reps"
    assert lines[2] == ("target peak 80-130 deg: met in 0 of 3", NOT_MET)
    assert all(t.split()[3] == "short" and c == NOT_MET for t, c in lines[5:])


def test_summary_frame_layout_fits_and_says_how_many_are_left_out(squat_analysis) -> None:  # type: ignore[no-untyped-def]
    a = squat_analysis(n_reps=3, peak=100.0)
    img = np.full((H, W, 3), 200, np.uint8)
    lay = draw_summary(img, Summary.of_analysis(a))
    assert lay.shown == 3 and len(lay.reps) == 3
    assert all(r[1] >= lay.header[3] for r in lay.reps)
    assert int(img[H - 5, W - 5, 0]) < 80  # the frame is darkened under the text
    many = Summary.of_reps(a.exercise, "right", a.reps * 80)
    small = np.zeros((240, 320, 3), np.uint8)
    lay = draw_summary(small, many)
    assert 0 < lay.shown < 240
    assert all(0 <= r[0] and r[2] <= 320 and r[3] <= 240 for r in lay.reps)


def test_wrap_breaks_long_cues() -> None:
    lines = wrap("Face the camera and step back so both arms are visible", 300, 1.0, 2)
    assert len(lines) == 2 and " ".join(lines) == \
        "Face the camera and step back so both arms are visible"
    assert wrap("Good rep", 300, 1.0, 2) == ["Good rep"]


def test_verdict_of_an_exercise_resting_high() -> None:
    ex = get_exercise("knee_extension")
    assert ex.counting.rest == "high"
    summary = Summary.of_reps(ex, "right", ())
    assert [t for t, _ in summary.lines()] == [
        "Summary: Seated knee extension, right", "0 reps", "target peak 0-15 deg: met in 0 of 0",
        "no complete repetition"]
