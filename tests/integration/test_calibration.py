"""Camera calibration, undistortion, TOML formats, printable board and cm scale.

Layers: exact recovery from synthetic projections; full pipeline on rendered (distorted)
images and a rendered video; the real Pose2Sim lab photos (the `lab` fixture, skipped when
the shared data is absent); the CLI run as a user would. Outputs go to ``tmp_path`` only.
"""

from __future__ import annotations

import argparse
import functools
import math
import re
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from rehab.calibration import (
    CameraCalibration,
    Scale,
    calibrate_from_images,
    calibrate_from_video,
    detect_board,
    distances_cm,
    load_calibration,
    load_pose2sim_cameras,
    parse_board,
    save_calibration,
    save_pose2sim_toml,
    scale_from_board,
    scale_from_height,
    undistort_pixels,
    undistort_sequence,
    write_board,
)
from rehab.calibration import cli
from rehab.calibration.board import board_pdf, board_svg
from rehab.calibration.checkerboard import (
    DISTORTION_MODELS,
    MIN_VIEWS,
    MODEL_TOLERANCE,
    Detection,
    ImageResult,
    board_object_points,
    calibrate_from_corners,
    calibration_warnings,
    choose_model,
    drop_outlier_corners,
    drop_outlier_views,
    leave_one_out_px,
    merge_outcomes,
    screen_detection,
    select_model,
)
from rehab.calibration.scale import EYE_HEIGHT_RATIO, board_spacing
from rehab.calibration.undistort import distort_pixels
from rehab.errors import ConfigError, InputError
from rehab.sequence import LANDMARK_INDEX, N_LANDMARKS, PoseSequence


REPO = Path(__file__).resolve().parents[2]

# A wide-angle camera at 640x480 with barrel distortion and an off-centre principal point.
K_TRUE = np.array([[600.0, 0.0, 331.0], [0.0, 598.0, 236.5], [0.0, 0.0, 1.0]])
D_TRUE = np.array([-0.28, 0.09, 0.0, 0.0, 0.0])
SIZE = (640, 480)
BOARD = (7, 4)
SQUARE = 30.0


# --------------------------------------------------------------------------- rendering

def _poses(board: tuple[int, int] = BOARD, square: float = SQUARE, n: int = 14,
           k: np.ndarray = K_TRUE, d: np.ndarray = D_TRUE,
           size: tuple[int, int] = SIZE) -> list[tuple[np.ndarray, np.ndarray]]:
    """Varied board poses (rvec, tvec) whose corners all fall well inside the frame."""
    rng = np.random.default_rng(7)
    obj = board_object_points(board, square).astype(np.float64)
    centre = obj.mean(axis=0)
    w, h = size
    poses = []
    while len(poses) < n:
        ang = np.radians(rng.uniform([-35, -35, -25], [35, 35, 25]))
        u, v = rng.uniform([0.2 * w, 0.2 * h], [0.8 * w, 0.8 * h])
        z = rng.uniform(380, 600)
        rot, _ = cv2.Rodrigues(ang)
        pc = z * np.array([(u - k[0, 2]) / k[0, 0], (v - k[1, 2]) / k[1, 1], 1.0])
        t = pc - rot @ centre
        proj, _ = cv2.projectPoints(obj, ang, t, k, d)
        p = proj.reshape(-1, 2)
        if (p[:, 0] > 12).all() and (p[:, 0] < w - 12).all() and (p[:, 1] > 12).all() \
                and (p[:, 1] < h - 12).all():
            poses.append((ang, t))
    return poses


@functools.lru_cache(maxsize=4)
def _ideal_rays(k: bytes, d: bytes, size: tuple[int, int], ss: int) -> np.ndarray:
    """Normalised pinhole coordinates of every (supersampled) pixel, (N, 1, 2)."""
    w, h = size
    vv, uu = np.mgrid[0:h * ss, 0:w * ss].astype(np.float64)
    pix = np.stack([(uu + 0.5) / ss - 0.5, (vv + 0.5) / ss - 0.5], axis=-1).reshape(-1, 1, 2)
    return cv2.undistortPointsIter(pix, np.frombuffer(k).reshape(3, 3), np.frombuffer(d),
                                   None, None,
                                   (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 40, 1e-10))


def _render(rvec: np.ndarray, tvec: np.ndarray, board: tuple[int, int] = BOARD,
            square: float = SQUARE, k: np.ndarray = K_TRUE, d: np.ndarray = D_TRUE,
            size: tuple[int, int] = SIZE, ss: int = 2) -> np.ndarray:
    """Gray image of the board seen through the camera (supersampled ``ss`` x)."""
    cols, rows = board
    res = 8.0  # texture pixels per mm
    margin = square  # white border of one square around the printed board
    tex_w = int(round(((cols + 1) * square + 2 * margin) * res))
    tex_h = int(round(((rows + 1) * square + 2 * margin) * res))
    yy, xx = np.mgrid[0:tex_h, 0:tex_w]
    xm, ym = (xx + 0.5) / res - margin, (yy + 0.5) / res - margin  # mm from board corner
    black = ((np.floor(xm / square) + np.floor(ym / square)) % 2 == 0) \
        & (xm >= 0) & (ym >= 0) & (xm < (cols + 1) * square) & (ym < (rows + 1) * square)
    texture = np.where(black, 20, 235).astype(np.uint8)
    w, h = size
    norm = _ideal_rays(k.tobytes(), np.asarray(d, np.float64).tobytes(), size, ss)
    rot, _ = cv2.Rodrigues(rvec)
    hom = np.column_stack([rot[:, 0], rot[:, 1], np.ravel(tvec)])
    plane = np.linalg.solve(hom, np.column_stack([norm.reshape(-1, 2),
                                                  np.ones(norm.shape[0])]).T).T
    xb = plane[:, 0] / plane[:, 2] + square  # inner corner (0,0) is one square in
    yb = plane[:, 1] / plane[:, 2] + square
    map_x = ((xb + margin) * res - 0.5).reshape(h * ss, w * ss).astype(np.float32)
    map_y = ((yb + margin) * res - 0.5).reshape(h * ss, w * ss).astype(np.float32)
    big = cv2.remap(texture, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                    borderValue=110)
    return cv2.resize(big, size, interpolation=cv2.INTER_AREA)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Ten rendered board photos plus a blank one and a blurred one."""
    folder = tmp_path_factory.mktemp("synthcam")
    paths = []
    for i, (r, t) in enumerate(_poses(n=10)):
        p = folder / f"view_{i:02d}.png"
        cv2.imwrite(str(p), _render(r, t))
        paths.append(p)
    blank = folder / "blank.png"
    cv2.imwrite(str(blank), np.full((SIZE[1], SIZE[0]), 128, np.uint8))
    blurred = folder / "blurred.png"
    cv2.imwrite(str(blurred), cv2.GaussianBlur(cv2.imread(str(paths[0]), 0), (0, 0), 7))
    return [*paths, blank, blurred]


# --------------------------------------------------------------------------- board names

def test_parse_board_names_inner_corners() -> None:
    assert parse_board("7x4") == (7, 4)
    assert parse_board(" 4X7 ") == (4, 7)
    for bad in ("7", "7x", "ax4", "1x5", "5x5", "7x4x2"):
        with pytest.raises(ConfigError, match="inner corners|ambiguous|COLSxROWS"):
            parse_board(bad)


# --------------------------------------------------------------------------- exact recovery

@pytest.mark.parametrize("model,dist", [
    ("k1k2p1p2k3", [-0.28, 0.09, 0.0012, -0.0008, -0.02]),
    ("k1k2", [-0.28, 0.09, 0.0, 0.0, 0.0]),
])
def test_exact_recovery_from_projected_corners(model: str, dist: list[float]) -> None:
    d = np.array(dist)
    obj = board_object_points(BOARD, SQUARE).astype(np.float64)
    views = _poses(n=12, d=d)
    img = [cv2.projectPoints(obj, r, t, K_TRUE, d)[0].reshape(-1, 2) for r, t in views]
    fit = calibrate_from_corners([obj] * len(img), img, SIZE, model)
    np.testing.assert_allclose(fit.camera_matrix, K_TRUE, rtol=1e-6, atol=1e-4)
    # OpenCV takes the points as float32 (~1e-4 px at 600 px): k3 is recovered to ~2e-5
    np.testing.assert_allclose(fit.dist_coeffs, d, atol=1e-4)
    assert fit.rms_px < 1e-4
    loo = leave_one_out_px([obj] * len(img), img, SIZE, model)
    assert loo.max() < 1e-3


def test_too_simple_model_shows_in_leave_one_out() -> None:
    """With real tangential distortion, k1k2 predicts held-out views worse than k1k2p1p2."""
    d = np.array([-0.28, 0.09, 0.004, -0.003, 0.0])
    obj = board_object_points(BOARD, SQUARE).astype(np.float64)
    img = [cv2.projectPoints(obj, r, t, K_TRUE, d)[0].reshape(-1, 2) for r, t in _poses(n=10)]
    simple = leave_one_out_px([obj] * 10, img, SIZE, "k1k2")
    right = leave_one_out_px([obj] * 10, img, SIZE, "k1k2p1p2")
    assert np.sqrt(np.mean(right ** 2)) < 0.2 * np.sqrt(np.mean(simple ** 2))


# --------------------------------------------------------------------------- fit phases

def _projected(d: list[float], n: int = 8, noise: float = 0.05, seed: int = 0
               ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Board points and their projections through K_TRUE with distortion ``d``, plus
    seeded Gaussian pixel noise: what a detector would hand the fit for ``n`` views."""
    rng = np.random.default_rng(seed)
    obj = board_object_points(BOARD, SQUARE).astype(np.float64)
    img = [cv2.projectPoints(obj, r, t, K_TRUE, np.array(d))[0].reshape(-1, 2)
           + rng.normal(0.0, noise, (obj.shape[0], 2)) for r, t in _poses(n=n, d=np.array(d))]
    return [obj] * n, img


@pytest.mark.parametrize("dist,noise,expected", [
    ([-0.28, 0.09, 0.0, 0.0, 0.0], 0.05, "k1k2"),
    ([-0.28, 0.09, 0.004, -0.003, 0.0], 0.05, "k1k2p1p2"),
    ([-0.28, 0.09, 0.004, -0.003, 0.3], 0.0, "k1k2p1p2k3"),
])
def test_select_model_picks_the_distortion_present(dist: list[float], noise: float,
                                                   expected: str) -> None:
    obj, img = _projected(dist, noise=noise)
    chosen, loo = select_model(obj, img, SIZE)
    assert chosen == expected
    assert set(loo) == set(DISTORTION_MODELS)
    assert min(loo.values()) <= loo[chosen] <= (1 + MODEL_TOLERANCE) * min(loo.values())


def test_select_model_prefers_the_simpler_model_within_tolerance() -> None:
    """Noise hides a small k3: the full model is best by under 5 %, the simpler one wins."""
    obj, img = _projected([-0.28, 0.09, 0.004, -0.003, 0.3], noise=0.05)
    chosen, loo = select_model(obj, img, SIZE)
    assert loo["k1k2p1p2k3"] < loo["k1k2p1p2"] <= (1 + MODEL_TOLERANCE) * loo["k1k2p1p2k3"]
    assert chosen == "k1k2p1p2"
    # too few views to hold one out, or a fixed model: no leave-one-out at all
    assert select_model(obj[:MIN_VIEWS], img[:MIN_VIEWS], SIZE) == ("k1k2", {})
    assert choose_model(obj, img, SIZE, "k1k2p1p2k3") == ("k1k2p1p2k3", {})


def test_drop_outlier_views_names_the_bad_view_and_why() -> None:
    obj, img = _projected([-0.28, 0.09, 0.0, 0.0, 0.0])
    assert drop_outlier_views(obj, img, SIZE) == (list(range(8)), {})
    img[5] = img[5] + np.random.default_rng(3).normal(0.0, 2.5, img[5].shape)
    kept, dropped = drop_outlier_views(obj, img, SIZE)
    assert kept == [0, 1, 2, 3, 4, 6, 7] and list(dropped) == [5]
    assert re.fullmatch(r"reprojection error \d+\.\d\d px, over 3x the median 0\.\d\d px "
                        r"\(corners mis-detected or board not flat\)", dropped[5])
    # never below MIN_VIEWS views: with four, the bad one stays
    assert drop_outlier_views(obj[2:6], img[2:6], SIZE) == ([0, 1, 2, 3], {})


def test_drop_outlier_corners_drops_one_corner_not_the_view() -> None:
    obj, img = _projected([-0.28, 0.09, 0.0, 0.0, 0.0])
    img[2] = img[2].copy()
    img[2][5] += (9.0, -7.0)  # 11.4 px off
    _, kept, dropped = drop_outlier_corners(obj, img, [28] * 8, SIZE)
    assert [v for v, _ in dropped] == [2]
    assert 8.0 < dropped[0][1] < 12.0
    assert [len(i) for i in kept] == [28, 28, 27, 28, 28, 28, 28, 28]
    np.testing.assert_array_equal(kept[2], np.delete(img[2], 5, axis=0))
    assert len(img[2]) == 28  # the input lists are not modified
    # a view must keep half of the corners it was detected with: here it would not
    assert drop_outlier_corners(obj, img, [28, 28, 60, 28, 28, 28, 28, 28], SIZE)[2] == []


def test_screen_detection_reasons() -> None:
    corners = np.zeros((28, 2), np.float32)
    sharp = Detection(corners, BOARD, "classic@1", edge_px=3.0, square_px=30.0)
    soft = Detection(corners, BOARD, "sb@0.5", edge_px=10.0, square_px=40.0)
    assert screen_detection("a.png", sharp, BOARD) == ImageResult("a.png", "pending", "classic@1")
    assert screen_detection("a.png", soft, BOARD) == ImageResult(
        "a.png", "blurred", "board edges 10.0 px wide (limit 8.0 px): motion or focus blur")
    assert screen_detection("v#frame3", soft, BOARD, video=True) == ImageResult(
        "v#frame3", "blurred", "board edges 10.0 px wide: motion or focus blur")
    missing = screen_detection("a.png", None, BOARD)
    assert missing.status == "no_board" and missing.reason.startswith(
        "no 7x4 inner-corner board found (all 28 inner corners must be visible")
    assert screen_detection("v#frame0", None, BOARD, video=True).reason == \
        "no complete board in the frame"


def test_merge_outcomes_and_warnings() -> None:
    results = [ImageResult("a", "pending", "m"), ImageResult("b", "pending", "m"),
               ImageResult("c", "no_board", "why"), ImageResult("d", "pending", "m")]
    assert merge_outcomes(results, {"a": 0.1, "d": 0.2}, {"b": "too far off"}) == [
        ImageResult("a", "used", 0.1), ImageResult("b", "outlier", "too far off"),
        ImageResult("c", "no_board", "why"), ImageResult("d", "used", 0.2)]
    assert calibration_warnings(12, 0.6, [], [5.0, 30.0], 0.3) == []
    assert calibration_warnings(7, 0.3, ["top-left", "top"], [5.0, 10.0], 1.25) == [
        "only 7 views used; 10-20 give a more reliable calibration",
        "the board never reached the top-left, top of the frame (boards cover 30% of it): "
        "distortion there is extrapolated; add views with the board near those edges",
        "all views face the camera (max tilt 10 deg): tilt the board 20-45 deg in some "
        "views so the focal length is determined",
        "RMS reprojection error 1.25 px is high (good: < 0.5 px): check the board is flat "
        "and the square size is right, and remove blurred views"]
    assert calibration_warnings(12, 0.4, [], [30.0], 0.3) == [
        "the boards cover only 40% of the frame; add views nearer the edges and corners"]


def test_board_spacing_of_a_stretched_grid() -> None:
    """Corners 10 px apart along the rows and 20 px across them (a board seen obliquely)."""
    corners = np.array([(10.0 * col, 20.0 * row) for row in range(4) for col in range(7)])
    spacing, ratio = board_spacing(corners, BOARD)
    assert spacing == pytest.approx((24 * 10.0 + 21 * 20.0) / 45)
    assert ratio == pytest.approx(0.5)


# --------------------------------------------------------------------------- rendered images

def test_calibrate_rendered_images(rendered: list[Path]) -> None:
    report = calibrate_from_images(rendered, BOARD, SQUARE, name="synth")
    c = report.calibration
    assert c.name == "synth" and (c.width, c.height) == SIZE
    assert c.images_used == 10
    assert c.fx == pytest.approx(K_TRUE[0, 0], rel=0.005)
    assert c.fy == pytest.approx(K_TRUE[1, 1], rel=0.005)
    assert abs(c.cx - K_TRUE[0, 2]) < 0.005 * SIZE[0]
    assert abs(c.cy - K_TRUE[1, 2]) < 0.005 * SIZE[1]
    assert c.dist[0] == pytest.approx(D_TRUE[0], abs=0.02)
    assert c.rms_px < 0.3
    status = {Path(r.path).name: r for r in report.per_image}
    assert status["blank.png"].status == "no_board"
    assert "4 inner-corner board" in status["blank.png"].reason
    assert status["blurred.png"].status in ("blurred", "no_board")
    assert all(isinstance(r.error_px, float) for r in report.used)
    # undistorting the detected corners of a view makes the board straight again
    # undistorted corners are a pinhole image of a plane again (a homography fits them)
    obj = board_object_points(BOARD, SQUARE)[:, :2].astype(np.float64)
    bent, straight = [], []
    for path in rendered[:10]:
        det = detect_board(cv2.imread(str(path), 0), BOARD)
        assert det is not None
        bent.append(_homography_rms(obj, det.corners.astype(np.float64)))
        straight.append(_homography_rms(obj, undistort_pixels(det.corners, c)))
    assert np.mean(straight) < 0.25 * np.mean(bent)


def _homography_rms(obj: np.ndarray, img: np.ndarray) -> float:
    """RMS residual (px) of the best plane-to-image homography."""
    h, _ = cv2.findHomography(obj, img, 0)
    proj = cv2.perspectiveTransform(obj.reshape(-1, 1, 2), h).reshape(-1, 2)
    return float(np.sqrt(np.mean(np.sum((proj - img) ** 2, axis=1))))


def test_board_orientation_either_name(rendered: list[Path]) -> None:
    image = cv2.imread(str(rendered[1]), 0)
    a, b = detect_board(image, (7, 4)), detect_board(image, (4, 7))
    assert a is not None and b is not None
    assert a.pattern == (7, 4) and b.pattern == (4, 7)
    np.testing.assert_allclose(np.sort(a.corners[:, 0]), np.sort(b.corners[:, 0]), atol=0.05)


def test_no_board_in_any_image(tmp_path: Path, rendered: list[Path]) -> None:
    out = tmp_path / "cam.toml"
    with pytest.raises(InputError, match=r"inner corners found in any of the 2 images"):
        calibrate_from_images([rendered[-2], rendered[-2]], BOARD, SQUARE)
    # the wrong board size is not found either, and the message names inner corners
    args = _cli_args(["calibrate", *map(str, rendered[:3]), "--board", "8x5",
                      "--square-mm", "30", "--out", str(out)])
    with pytest.raises(InputError, match="8x5 inner corners"):
        args.func(args)
    assert not out.exists()


def test_images_of_different_sizes(tmp_path: Path, rendered: list[Path]) -> None:
    small = tmp_path / "small.png"
    cv2.imwrite(str(small), cv2.resize(cv2.imread(str(rendered[0])), (320, 240)))
    with pytest.raises(InputError, match="320x240 but view_00.png is 640x480"):
        calibrate_from_images([rendered[0], small], BOARD, SQUARE)


def test_too_few_usable_views(rendered: list[Path]) -> None:
    with pytest.raises(InputError, match="only 3 usable view"):
        calibrate_from_images([*rendered[:3], rendered[-2]], BOARD, SQUARE)


def test_unreadable_image_is_reported(tmp_path: Path, rendered: list[Path]) -> None:
    bad = tmp_path / "notes.jpg"
    bad.write_text("not an image")
    report = calibrate_from_images([*rendered[:6], bad], BOARD, SQUARE, model="k1k2")
    status = {Path(r.path).name: r.status for r in report.per_image}
    assert status["notes.jpg"] == "unreadable"
    assert report.calibration.images_used == 6
    assert any("10-20" in w for w in report.warnings)


# --------------------------------------------------------------------------- video

def test_calibrate_from_video_picks_sharp_varied_frames(tmp_path: Path) -> None:
    video = tmp_path / "board.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, SIZE)
    assert writer.isOpened()
    poses = _poses(n=16)
    blank = np.full((SIZE[1], SIZE[0]), 120, np.uint8)
    for i, (r, t) in enumerate(poses):
        frame = _render(r, t)
        writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
        if i % 4 == 0:  # a motion-blurred copy and an empty frame between views
            kernel = np.zeros((1, 31), np.float32)
            kernel[0, :] = 1 / 31
            writer.write(cv2.cvtColor(cv2.filter2D(frame, -1, kernel), cv2.COLOR_GRAY2BGR))
            writer.write(cv2.cvtColor(blank, cv2.COLOR_GRAY2BGR))
    writer.release()
    report = calibrate_from_video(video, "7x4", SQUARE, max_frames=12)
    c = report.calibration
    assert c.images_used == 12
    assert c.fx == pytest.approx(K_TRUE[0, 0], rel=0.01)
    assert abs(c.cx - K_TRUE[0, 2]) < 0.01 * SIZE[0]
    statuses = {r.status for r in report.per_image}
    assert {"used", "no_board", "blurred", "not_selected"} <= statuses
    assert all("#frame" in r.path for r in report.per_image)
    assert not any(r.status == "used" and r.path.endswith(("#frame1", "#frame2"))
                   for r in report.per_image)  # the blurred and empty frames


def test_unreadable_video(tmp_path: Path) -> None:
    fake = tmp_path / "clip.mp4"
    fake.write_bytes(b"\x00" * 100)
    with pytest.raises(InputError, match="clip.mp4"):
        calibrate_from_video(fake, (7, 4), 30.0)
    with pytest.raises(InputError, match="not found"):
        calibrate_from_video(tmp_path / "missing.mp4", (7, 4), 30.0)


# --------------------------------------------------------------------------- real lab photos

LAB_EXPECTED = {
    # camera: (usable views, rejected image or None). One image per camera defeats OpenCV's
    # default detector: cam01_02 and cam03_05 are found by the harder attempts, cam04_04 is
    # a board cut by the frame edge (used as a partial board), cam02_06 shows the board
    # edge-on and is rejected.
    "cam01": (7, None),
    "cam02": (6, "cam02_06_int.jpg"),
    "cam03": (7, None),
    "cam04": (7, None),
}


@pytest.fixture(scope="module")
def lab(shared_dir: Path) -> Path:
    """The Pose2Sim lab's calibration photos in ../shared/data, or a skip with the reason."""
    path = shared_dir / "calibration" / "pose2sim_lab"
    if not path.is_dir():
        pytest.skip(f"shared calibration photos not found at {path}")
    return path


@pytest.mark.parametrize("cam", sorted(LAB_EXPECTED))
def test_real_lab_cameras(cam: str, lab: Path) -> None:
    images = sorted((lab / cam).glob("*.jpg"))
    assert len(images) == 7
    report = calibrate_from_images(images, (4, 7), 60.0, name=cam)
    c = report.calibration
    used, rejected = LAB_EXPECTED[cam]
    assert (c.width, c.height) == (1088, 1920)
    assert c.images_used == used
    assert c.rms_px < 0.4
    # the four cameras are the same model: ~1674 px focal length, centre near the middle
    assert 1640 < c.fx < 1710 and abs(c.fy / c.fx - 1) < 0.005
    assert abs(c.cx - 1088 / 2) < 0.04 * 1088 and abs(c.cy - 1920 / 2) < 0.04 * 1920
    assert report.std_px["fx"] < 5.0
    assert set(report.loo_px) == {"k1k2", "k1k2p1p2", "k1k2p1p2k3"}
    for r in report.per_image:
        if rejected and r.path.endswith(rejected):
            assert r.status == "no_board" and "4x7 inner-corner" in r.reason
        else:
            assert r.status == "used", r
    assert any("never reached" in w or "cover" in w for w in report.warnings)


def test_real_board_found_in_both_orientations(lab: Path) -> None:
    image = cv2.imread(str(lab / "cam01" / "cam01_02_int.jpg"), 0)  # default detector fails
    assert detect_board(image, (4, 7)) is not None
    assert detect_board(image, (7, 4)) is not None


# --------------------------------------------------------------------------- undistortion

def _calib(width: int = 640, height: int = 480, **kw: float) -> CameraCalibration:
    d = (kw.get("k1", -0.28), kw.get("k2", 0.09), kw.get("p1", 0.001), kw.get("p2", -0.002),
         kw.get("k3", 0.01))
    return CameraCalibration(name="c", width=width, height=height, fx=600.0, fy=598.0,
                             cx=331.0, cy=236.5, dist=d, rms_px=0.2, images_used=12,
                             created="2025-01-01T00:00:00Z")


def test_undistort_round_trip_across_the_frame() -> None:
    c = _calib()
    vv, uu = np.mgrid[0:480:16, 0:640:16]
    pts = np.stack([uu, vv], axis=-1).astype(np.float64)
    back = distort_pixels(undistort_pixels(pts, c), c)
    np.testing.assert_allclose(back, pts, atol=1e-6)
    # and the other way round, from ideal pinhole pixels
    np.testing.assert_allclose(undistort_pixels(distort_pixels(pts, c), c), pts, atol=1e-6)
    # barrel distortion: corners of the frame move outward when undistorted
    corner = undistort_pixels(np.array([[0.0, 0.0]]), c)[0]
    assert corner[0] < 0 and corner[1] < 0


def _sequence(n: int = 5, width: int = 640, height: int = 480) -> PoseSequence:
    rng = np.random.default_rng(3)
    lm = rng.uniform(0.05, 0.95, (n, N_LANDMARKS, 3)).astype(np.float32)
    world = rng.normal(size=(n, N_LANDMARKS, 3)).astype(np.float32)
    vis = np.ones((n, N_LANDMARKS), np.float32)
    lm[2] = np.nan
    world[2] = np.nan
    vis[2] = 0
    return PoseSequence(landmarks=lm, world=world, visibility=vis,
                        timestamps=np.arange(n) / 30.0, fps=30.0, width=width, height=height,
                        source="synthetic")


def test_undistort_sequence() -> None:
    seq = _sequence()
    c = _calib()
    out = undistort_sequence(seq, c)
    assert out is not seq
    np.testing.assert_array_equal(out.world, seq.world)
    np.testing.assert_array_equal(out.landmarks[:, :, 2], seq.landmarks[:, :, 2])
    assert np.isnan(out.landmarks[2]).all() and not np.isnan(out.landmarks[[0, 1, 3]]).any()
    expected = undistort_pixels(seq.pixels(), c) / [640, 480]
    np.testing.assert_allclose(out.landmarks[:, :, :2], expected, atol=1e-6)
    assert not np.allclose(out.landmarks[0, :, :2], seq.landmarks[0, :, :2], atol=1e-4)
    assert "undistorted with calibration 'c'" in out.notes[-1]
    assert seq.notes == ()  # input untouched


def test_undistort_resolution_mismatch() -> None:
    with pytest.raises(ConfigError, match="portrait vs landscape"):
        undistort_sequence(_sequence(width=480, height=640), _calib())
    with pytest.raises(ConfigError, match="640x480 images but the video .* is 1280x960"):
        undistort_sequence(_sequence(width=1280, height=960), _calib())


# --------------------------------------------------------------------------- TOML files

def test_rehab_toml_round_trip(tmp_path: Path) -> None:
    c = _calib()
    path = save_calibration(c, tmp_path / "sub" / "cam.toml", {"board_inner_corners": "7x4",
                                                                "std_px": {"fx": 1.5}})
    assert load_calibration(path) == c
    text = path.read_text()
    assert "[camera]" in text and "dist = [" in text and "[provenance]" in text
    assert not list(path.parent.glob("*.part"))


def test_pose2sim_round_trip_and_multi_camera(tmp_path: Path, caplog: pytest.LogCaptureFixture
                                              ) -> None:
    c = _calib(k3=0.0)
    path = save_pose2sim_toml(c, tmp_path / "Calib.toml")
    back = load_calibration(path)
    assert (back.fx, back.fy, back.cx, back.cy, back.dist) == (c.fx, c.fy, c.cx, c.cy, c.dist)
    assert math.isnan(back.rms_px)
    text = path.read_text()
    for key in ("size = [640.0, 480.0]", "matrix = [[600.0, 0.0, 331.0]", "distortions = [",
                "rotation = [", "translation = [", "fisheye = false", "[metadata]"):
        assert key in text
    # k3 cannot be stored in the Pose2Sim format: dropped with a warning
    with caplog.at_level("WARNING"):
        save_pose2sim_toml(_calib(k3=0.05), tmp_path / "k3.toml")
    assert "k3=0.05 dropped" in caplog.text
    # a Pose2Sim file with several cameras, written in its own style
    multi = tmp_path / "Calib_scene.toml"
    multi.write_text(
        '[int_cam01_img]\nname = "int_cam01_img"\nsize = [ 1088.0, 1920.0]\n'
        "matrix = [ [ 1671.5, 0.0, 564.6], [ 0.0, 1671.4, 933.0], [ 0.0, 0.0, 1.0]]\n"
        "distortions = [ -0.053, 0.151, -0.0001, 0.0006]\n"
        "rotation = [ 1.67, 1.03, -0.39]\ntranslation = [ 0.26, 0.96, 2.93]\nfisheye = false\n\n"
        '[int_cam02_img]\nname = "int_cam02_img"\nsize = [ 1088.0, 1920.0]\n'
        "matrix = [ [ 1675.7, 0.0, 555.8], [ 0.0, 1675.4, 937.7], [ 0.0, 0.0, 1.0]]\n"
        "distortions = [ -0.052, 0.149, 0.0, -0.0006]\n"
        "rotation = [ 1.35, 1.57, -1.18]\ntranslation = [ -0.16, 0.80, 3.20]\nfisheye = false\n\n"
        "[metadata]\nadjusted = false\nerror = 0.0\n")
    caplog.clear()
    with caplog.at_level("WARNING"):
        first = load_calibration(multi)
    assert first.name == "int_cam01_img" and first.fx == 1671.5 and first.dist[4] == 0.0
    assert "using the first" in caplog.text and "int_cam02_img" in caplog.text
    assert load_calibration(multi, camera="int_cam02_img").cx == 555.8
    assert [x.name for x in load_pose2sim_cameras(multi)] == ["int_cam01_img", "int_cam02_img"]
    with pytest.raises(ConfigError, match="no camera 'cam09'"):
        load_calibration(multi, camera="cam09")


@pytest.mark.parametrize("text,match", [
    ("[camera]\nfx = 1\n", "missing key camera.width"),
    ("[camera]\nwidth=640\nheight=480\nfx=600\nfy=600\ncx=320\ncy=240\ndist=[0,0,0,0,0]\n"
     "focal=3\n", "unknown key camera.focal"),
    ("[camera]\nwidth=640\nheight=480\nfx=-600\nfy=600\ncx=320\ncy=240\ndist=[0,0,0,0,0]\n",
     "focal lengths must be positive"),
    ("[camera]\nwidth=640\nheight=480\nfx=600\nfy=600\ncx=320\ncy=240\ndist=[0,0]\n",
     "camera.dist must be a list of 4 or 5"),
    ('[c1]\nsize=[640.0,480.0]\nmatrix=[[600.0,0.0,320.0],[0.0,600.0,240.0],[0.0,0.0,1.0]]\n'
     "distortions=[0.1,0.0,0.0,0.0]\nfisheye=true\n", "fisheye"),
    ("[other]\nx = 1\n", "not a calibration file"),
    ("this is = = not toml", "not valid TOML"),
])
def test_bad_calibration_files(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_calibration(path)


def test_missing_calibration_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="calibration file not found"):
        load_calibration(tmp_path / "nope.toml")


# --------------------------------------------------------------------------- printable board

def _pdf_squares(pdf: bytes) -> list[tuple[float, float, float, float]]:
    stream = re.search(rb"stream\n(.*?)\nendstream", pdf, re.S)
    assert stream is not None
    return [tuple(map(float, m.groups())) for m in re.finditer(
        rb"([\d.]+) ([\d.]+) ([\d.]+) ([\d.]+) re f", stream.group(1))]


def test_board_pdf_is_exact_and_detectable(tmp_path: Path) -> None:
    pdf = board_pdf((7, 4), 30.0, "a4")
    assert pdf.startswith(b"%PDF-1.4") and pdf.rstrip().endswith(b"%%EOF")
    # cross-reference offsets point at their objects
    xref = int(re.search(rb"startxref\n(\d+)", pdf).group(1))
    offsets = [int(x) for x in re.findall(rb"(\d{10}) 00000 n", pdf[xref:])]
    for i, off in enumerate(offsets, start=1):
        assert pdf[off:].startswith(f"{i} 0 obj".encode())
    media = re.search(rb"/MediaBox \[0 0 ([\d.]+) ([\d.]+)\]", pdf)
    assert float(media.group(1)) == pytest.approx(297 * 72 / 25.4, abs=0.01)  # landscape A4
    squares = _pdf_squares(pdf)
    assert len(squares) == 20  # half of 8x5 squares are black
    assert all(w == pytest.approx(30 * 72 / 25.4, abs=1e-3) for _, _, w, _ in squares)
    # draw the squares at 4 px/mm on white and find the board
    scale = 4 * 25.4 / 72
    page_h = float(media.group(2))
    image = np.full((int(210 * 4), int(297 * 4)), 255, np.uint8)
    for x, y, w, h in squares:
        x0, y0 = int(round(x * scale)), int(round((page_h - y - h) * scale))
        image[y0:y0 + int(round(h * scale)), x0:x0 + int(round(w * scale))] = 0
    det = detect_board(image, (7, 4))
    assert det is not None and det.square_px == pytest.approx(120, abs=0.5)
    svg = board_svg((7, 4), 30.0)
    assert 'width="297.000mm"' in svg and svg.count('width="30.000"') == 20
    written = write_board(tmp_path / "b.svg", (7, 4), 30.0)
    assert written.read_text() == svg


def test_board_that_does_not_fit() -> None:
    with pytest.raises(ConfigError, match="does not fit A4"):
        board_pdf((7, 4), 60.0, "a4")
    assert len(_pdf_squares(board_pdf((7, 4), 60.0, "fit"))) == 20


def test_shipped_board_matches_generator() -> None:
    shipped = REPO / "calibration" / "checkerboard_7x4_30mm_a4.pdf"
    assert shipped.read_bytes() == board_pdf((7, 4), 30.0, "a4")


# --------------------------------------------------------------------------- scale

def _standing_sequence(n: int = 20, width: int = 1000, height: int = 1400) -> PoseSequence:
    """A person standing straight, eyes at y=200 px and the floor at y=1136 px."""
    L = LANDMARK_INDEX
    px = np.full((n, N_LANDMARKS, 2), np.nan)
    for side, dx in (("left", 40.0), ("right", -40.0)):
        px[:, L[f"{side}_eye"]] = (500 + dx / 4, 200)
        px[:, L[f"{side}_hip"]] = (500 + dx, 650)
        px[:, L[f"{side}_knee"]] = (500 + dx, 880)
        px[:, L[f"{side}_ankle"]] = (500 + dx, 1110)
        px[:, L[f"{side}_heel"]] = (500 + dx - 10, 1136)
        px[:, L[f"{side}_foot_index"]] = (500 + dx + 40, 1130)
    px[:, L["nose"]] = (500, 220)
    lm = np.zeros((n, N_LANDMARKS, 3), np.float32)
    lm[:, :, 0] = px[:, :, 0] / width
    lm[:, :, 1] = px[:, :, 1] / height
    vis = np.where(np.isnan(px[:, :, 0]), 0.0, 0.99).astype(np.float32)
    return PoseSequence(landmarks=lm, world=np.zeros_like(lm), visibility=vis,
                        timestamps=np.arange(n) / 30.0, fps=30.0, width=width, height=height)


def test_scale_from_height() -> None:
    seq = _standing_sequence()
    s = scale_from_height(seq, 180.0)
    stature_px = 936.0 / EYE_HEIGHT_RATIO
    assert s.cm_per_px == pytest.approx(180.0 / stature_px, rel=1e-4)
    assert s.source == "patient height 180 cm" and "standing frames" in s.detail
    # squatting (bent knees) and invisible frames are not used: no usable frame left
    lm = np.array(seq.landmarks)
    lm[:, LANDMARK_INDEX["left_knee"], 0] += 0.15
    lm[:, LANDMARK_INDEX["right_knee"], 0] += 0.15
    with pytest.raises(InputError, match="standing upright"):
        scale_from_height(seq.replace(landmarks=lm), 180.0)
    with pytest.raises(InputError, match="standing upright"):
        scale_from_height(seq.replace(visibility=np.zeros_like(seq.visibility)), 180.0)
    with pytest.raises(ConfigError, match="between 50 and 250"):
        scale_from_height(seq, 1.72)


def test_distances_cm_per_rep() -> None:
    seq = _standing_sequence(n=20)
    L = LANDMARK_INDEX
    lm = np.array(seq.landmarks)
    down = np.concatenate([np.linspace(0, 100, 10), np.linspace(100, 0, 10)])  # px
    for side in ("left", "right"):
        lm[:, L[f"{side}_hip"], 1] += (down / 1400).astype(np.float32)
    lm[:, L["left_heel"], 1] -= (0.5 * down / 1400).astype(np.float32)  # heel rises 50 px
    lm[:, L["left_ankle"], 0] += (2 * down / 1000).astype(np.float32)  # step: +200 px
    lm[5, L["left_hip"]] = np.nan  # a missing frame does not break anything
    seq = seq.replace(landmarks=lm)
    scale = Scale(0.2, "test")
    d = distances_cm(seq, scale, 0, 20)
    assert d["hip_excursion_cm"] == pytest.approx(20.0, abs=1e-3)
    assert d["hip_drop_cm"] == pytest.approx(20.0, abs=1e-3)
    assert d["heel_rise_left_cm"] == pytest.approx(10.0, abs=1e-3)
    assert d["heel_rise_right_cm"] == pytest.approx(0.0, abs=1e-3)
    assert d["heel_rise_cm"] == pytest.approx(10.0, abs=1e-3)
    assert d["ankle_separation_start_cm"] == pytest.approx(16.0, abs=1e-3)
    assert d["ankle_separation_change_cm"] == pytest.approx(40.0, abs=1e-3)
    empty = seq.replace(visibility=np.zeros_like(seq.visibility))
    assert all(math.isnan(v) for v in distances_cm(empty, scale, 0, 20).values())
    with pytest.raises(InputError, match="outside the sequence"):
        distances_cm(seq, scale, 5, 40)


def test_scale_from_board_in_scene(tmp_path: Path) -> None:
    k = np.array([[700.0, 0.0, 320.0], [0.0, 700.0, 240.0], [0.0, 0.0, 1.0]])
    obj_centre = board_object_points(BOARD, SQUARE).mean(axis=0)
    z = 1500.0
    t = np.array([0.0, 0.0, z]) - obj_centre
    frame = _render(np.zeros(3), t, k=k, d=np.zeros(5))
    path = tmp_path / "scene.png"
    cv2.imwrite(str(path), frame)
    s = scale_from_board(path, BOARD, SQUARE)
    expected = (SQUARE / 10.0) / (700.0 * SQUARE / z)
    assert s.cm_per_px == pytest.approx(expected, rel=0.005)
    assert "checkerboard 7x4" in s.source and "tilted" not in s.detail
    with pytest.raises(InputError, match="no checkerboard"):
        scale_from_board([np.full((480, 640, 3), 90, np.uint8)], BOARD, SQUARE)


# --------------------------------------------------------------------------- CLI

def _cli_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="rehab")
    sub = parser.add_subparsers()
    cli.add_parser(sub)
    cli.add_board_parser(sub)
    return parser.parse_args(argv)


def test_cli_calibrate_and_board(tmp_path: Path, rendered: list[Path],
                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "calibration" / "synth.toml"
    args = _cli_args(["calibrate", *map(str, rendered), "--board", "4x7", "--square-mm", "30",
                      "--out", str(out), "--name", "synth"])
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    assert "RMS" in printed and "fx 6" in printed and str(out) in printed
    c = load_calibration(out)
    assert c.name == "synth" and c.images_used == 10
    p2s = tmp_path / "Calib.toml"
    args = _cli_args(["calibrate", *map(str, rendered), "--board", "7x4", "--square-mm", "30",
                      "--out", str(p2s), "--format", "pose2sim", "--model", "k1k2"])
    assert args.func(args) == 0
    assert load_calibration(p2s).fx == pytest.approx(c.fx, rel=1e-3)
    pdf = tmp_path / "board.pdf"
    args = _cli_args(["board", "--board", "7x4", "--square-mm", "30", "--out", str(pdf)])
    assert args.func(args) == 0
    assert pdf.read_bytes() == board_pdf((7, 4), 30.0, "a4")
    assert zlib.crc32(pdf.read_bytes())  # non-empty
    with pytest.raises(SystemExit):  # --board is required and documented as inner corners
        _cli_args(["calibrate", str(rendered[0]), "--square-mm", "30", "--out", str(out)])
