"""VMC bones (`rehab.stream.vmc`): the bones' local rotations, applied to a T-pose skeleton
of other proportions by an independent forward kinematics (scipy's rotations), give back
the joint angles rehab measures on the synthetic poses they came from; a T-pose gives
identity rotations; the patient mirrored gives the bones mirrored; no person, no bones."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation  # type: ignore[import-untyped]

from rehab.errors import InputError
from rehab.kinematics._kernels import joint_angles_world
from rehab.model import ANGLE_COLUMNS, LANDMARK_INDEX, LANDMARK_NAMES
from rehab.stream.vmc import BONE_PARENT, BONES, VmcPose, parse_target, vmc_pose
from rehab.synthetic import synthetic_sequence

I = LANDMARK_INDEX

# A reference T-pose skeleton in Unity axes (left at -X, facing +Z, Y up), proportions
# unlike the synthetic figure's: local offsets of each bone from its parent's joint.
OFFSET = {
    "Hips": (0.0, 0.95, 0.0), "Spine": (0.0, 0.10, 0.0), "Chest": (0.0, 0.15, 0.0),
    "Neck": (0.0, 0.20, 0.0), "Head": (0.0, 0.10, 0.0),
    "LeftUpperArm": (-0.17, 0.15, 0.0), "LeftLowerArm": (-0.26, 0.0, 0.0),
    "LeftHand": (-0.24, 0.0, 0.0),
    "RightUpperArm": (0.17, 0.15, 0.0), "RightLowerArm": (0.26, 0.0, 0.0),
    "RightHand": (0.24, 0.0, 0.0),
    "LeftUpperLeg": (-0.09, -0.06, 0.0), "LeftLowerLeg": (0.0, -0.41, 0.0),
    "LeftFoot": (0.0, -0.40, 0.0),
    "RightUpperLeg": (0.09, -0.06, 0.0), "RightLowerLeg": (0.0, -0.41, 0.0),
    "RightFoot": (0.0, -0.40, 0.0),
}


def forward_kinematics(pose: VmcPose) -> dict[str, tuple[np.ndarray, Rotation]]:
    """Each bone's global (joint position, rotation): global = parent * local, position =
    parent position + parent rotation applied to the reference offset."""
    out: dict[str, tuple[np.ndarray, Rotation]] = {}
    for bone in BONES:
        local = Rotation.from_quat(pose.bones[bone].rotation)  # (x, y, z, w)
        parent = BONE_PARENT[bone]
        if parent is None:
            out[bone] = (np.asarray(OFFSET[bone]), local)
        else:
            pp, pr = out[parent]
            out[bone] = (pp + pr.apply(OFFSET[bone]), pr * local)
    return out


def fk_world(pose: VmcPose) -> np.ndarray:
    """MediaPipe world landmarks (33, 3) of the reference skeleton posed by ``pose``."""
    g = forward_kinematics(pose)
    u = np.zeros((33, 3))
    for side, sign in (("left", -1.0), ("right", 1.0)):
        s = side.capitalize()
        u[I[f"{side}_shoulder"]] = g[f"{s}UpperArm"][0]
        u[I[f"{side}_elbow"]] = g[f"{s}LowerArm"][0]
        u[I[f"{side}_wrist"]] = g[f"{s}Hand"][0]
        hp, hr = g[f"{s}Hand"]
        for name in ("index", "pinky", "thumb"):
            u[I[f"{side}_{name}"]] = hp + hr.apply([sign * 0.08, 0.0, 0.0])
        u[I[f"{side}_hip"]] = g[f"{s}UpperLeg"][0]
        u[I[f"{side}_knee"]] = g[f"{s}LowerLeg"][0]
        fp, fr = g[f"{s}Foot"]
        u[I[f"{side}_ankle"]] = fp
        u[I[f"{side}_heel"]] = fp + fr.apply([0.0, -0.06, -0.05])
        u[I[f"{side}_foot_index"]] = fp + fr.apply([0.0, -0.06, 0.15])
    hp, hr = g["Head"]
    for name in LANDMARK_NAMES[:11]:
        u[I[name]] = hp + hr.apply([0.0, 0.08, 0.08])
    return -u  # Unity -> MediaPipe


def synthetic_world(angles: dict[str, float], view: str = "side", yaw: float = 0.0,
                    lean: float = 0.0) -> np.ndarray:
    seq = synthetic_sequence(np.array([0.0]), angles, view=view, yaw_deg=yaw,  # type: ignore[arg-type]
                             trunk_lean=lean)
    return seq.world[0].astype(np.float64)


def angles(world: np.ndarray) -> dict[str, float]:
    row = joint_angles_world(world[None].astype(np.float32))[0]
    return dict(zip(ANGLE_COLUMNS, row))


SEGMENT = [f"{s}_{n}" for s in ("left", "right")
           for n in ("knee_flexion", "elbow_flexion", "ankle_plantarflexion")]
SAGITTAL = [f"{s}_{n}" for s in ("left", "right") for n in ("hip_flexion", "shoulder_flexion")]
FRONTAL = [f"{s}_{n}" for s in ("left", "right")
           for n in ("hip_abduction", "shoulder_abduction")]

CASES = [
    # (angles, view, yaw, lean): side view = sagittal plane, front view = frontal plane
    ({"knee_flexion": 0.0}, "side", 0.0, 0.0),
    ({"knee_flexion": 45.0, "hip_flexion": 20.0}, "side", 0.0, 0.0),
    ({"knee_flexion": 90.0, "hip_flexion": 90.0}, "side", 0.0, 0.0),
    ({"hip_flexion": 45.0, "left_knee_flexion": 60.0}, "side", 0.0, 0.0),
    ({"left_hip_flexion": 90.0, "right_hip_flexion": 10.0}, "side", 0.0, 15.0),
    ({"shoulder_flexion": 90.0, "elbow_flexion": 45.0}, "side", 0.0, 0.0),
    ({"shoulder_flexion": 150.0, "elbow_flexion": 90.0}, "side", 0.0, 0.0),
    ({"elbow_flexion": 120.0, "ankle_plantarflexion": 25.0}, "side", 0.0, 0.0),
    ({"knee_flexion": 90.0, "hip_flexion": 80.0, "ankle_plantarflexion": -15.0}, "side",
     30.0, 20.0),
    ({"shoulder_flexion": 0.0}, "front", 0.0, 0.0),
    ({"shoulder_flexion": 90.0}, "front", 0.0, 0.0),
    ({"shoulder_flexion": 150.0, "elbow_flexion": 30.0}, "front", 0.0, 0.0),
    ({"left_shoulder_flexion": 90.0, "right_shoulder_flexion": 30.0}, "front", 30.0, 0.0),
    ({"hip_flexion": 30.0, "knee_flexion": 40.0}, "front", 0.0, 10.0),
    ({"hip_flexion": 25.0, "shoulder_flexion": 120.0}, "front", -30.0, 0.0),
]


@pytest.mark.parametrize(("spec", "view", "yaw", "lean"), CASES)
def test_bones_reproduce_the_measured_angles(spec: dict[str, float], view: str, yaw: float,
                                             lean: float) -> None:
    world = synthetic_world(spec, view, yaw, lean)
    pose = vmc_pose(world)
    assert pose is not None and list(pose.bones) == list(BONES)
    before, after = angles(world), angles(fk_world(pose))
    columns = SEGMENT + (SAGITTAL if view == "side" else FRONTAL) + ["trunk_lean"]
    for col in columns:
        assert abs(after[col] - before[col]) < 3.0, (col, before[col], after[col])
    for key, value in spec.items():  # and what was put in, where rehab measures it
        name = key if key.startswith(("left_", "right_")) else f"left_{key}"
        if view == "front":
            name = name.replace("_flexion", "_abduction").replace(
                "knee_abduction", "knee_flexion").replace("elbow_abduction", "elbow_flexion")
        assert abs(after[name] - value) < 3.0, (name, value, after[name])


def test_unit_quaternions_with_w_positive() -> None:
    for spec, view, yaw, lean in CASES:
        pose = vmc_pose(synthetic_world(spec, view, yaw, lean))
        assert pose is not None
        for b in (pose.root, *pose.bones.values()):
            q = np.asarray(b.rotation)
            assert abs(np.linalg.norm(q) - 1.0) < 1e-9 and q[3] >= 0.0
            assert np.isfinite(b.position).all()


def t_pose_world() -> np.ndarray:
    """A patient facing the camera in a T-pose, MediaPipe axes (their left is +x, up -y,
    towards the camera -z), feet flat and forward, eyes straight ahead of the ears."""
    w = np.zeros((33, 3))
    for side, s in (("left", 1.0), ("right", -1.0)):
        pts = {"hip": (0.1, 0.0, 0.0), "knee": (0.1, 0.45, 0.0), "ankle": (0.1, 0.88, 0.0),
               "heel": (0.1, 0.93, 0.05), "foot_index": (0.1, 0.93, -0.15),
               "shoulder": (0.19, -0.52, 0.0), "elbow": (0.49, -0.52, 0.0),
               "wrist": (0.76, -0.52, 0.0), "index": (0.84, -0.52, -0.02),
               "pinky": (0.84, -0.52, 0.02), "thumb": (0.8, -0.52, -0.04),
               "ear": (0.07, -0.68, 0.0), "eye": (0.03, -0.68, -0.08),
               "eye_inner": (0.015, -0.69, -0.085), "eye_outer": (0.045, -0.69, -0.07)}
        for name, (x, y, z) in pts.items():
            w[I[f"{side}_{name}"]] = (s * x, y, z)
    w[I["mouth_left"]] = (0.025, -0.62, -0.09)
    w[I["mouth_right"]] = (-0.025, -0.62, -0.09)
    w[I["nose"]] = (0.0, -0.68, -0.1)
    return w


def test_t_pose_gives_identity_rotations() -> None:
    pose = vmc_pose(t_pose_world())
    assert pose is not None and list(pose.bones) == list(BONES)
    for name, b in pose.bones.items():
        assert np.allclose(b.rotation, (0.0, 0.0, 0.0, 1.0), atol=1e-6), name
    assert pose.root.rotation == (0.0, 0.0, 0.0, 1.0) and pose.root.position == (0, 0, 0)
    # Unity axes: the avatar's left arm is at -X, its hips stand on the floor
    assert pose.bones["LeftUpperArm"].position[0] < 0 < pose.bones["RightUpperArm"].position[0]
    assert pose.bones["LeftLowerArm"].position == pytest.approx((-0.30, 0.0, 0.0))
    assert pose.bones["Hips"].position == pytest.approx((0.0, 0.93, 0.0))


def test_patient_turned_turns_the_hips_about_y() -> None:
    """Facing image right (side view) the avatar faces -X: the hips yaw -90 deg (Unity's
    yaw: +90 turns +Z to +X); standing upright, nothing else turns."""
    pose = vmc_pose(synthetic_world({}, "side"))
    assert pose is not None
    hips = Rotation.from_quat(pose.bones["Hips"].rotation)
    assert np.allclose(hips.apply([0.0, 0.0, 1.0]), [-1.0, 0.0, 0.0], atol=1e-6)
    assert np.allclose(hips.apply([0.0, 1.0, 0.0]), [0.0, 1.0, 0.0], atol=1e-6)
    arm = Rotation.from_quat(pose.bones["LeftUpperArm"].rotation)
    assert np.allclose(arm.apply([-1.0, 0.0, 0.0]), [0.0, -1.0, 0.0], atol=1e-6)  # arm down


def _mirror(world: np.ndarray) -> np.ndarray:
    swap = [I[n.replace("left", "@").replace("right", "left").replace("@", "right")]
            for n in LANDMARK_NAMES]
    out = world[swap].copy()
    out[:, 0] *= -1.0
    return out


def test_mirrored_patient_gives_mirrored_bones() -> None:
    rng = np.random.default_rng(7)
    world = t_pose_world() + rng.normal(0.0, 0.04, (33, 3))
    pose, mirrored = vmc_pose(world), vmc_pose(_mirror(world))
    assert pose is not None and mirrored is not None
    for name, b in pose.bones.items():
        other = name.replace("Left", "@").replace("Right", "Left").replace("@", "Right")
        m = mirrored.bones[other]
        x, y, z, w = b.rotation
        assert np.allclose(m.rotation, (x, -y, -z, w), atol=1e-9), name
        px, py, pz = b.position
        assert np.allclose(m.position, (-px, py, pz), atol=1e-9), name
        # and a rotation really changed: the test is not passing on identities
    assert max(abs(b.rotation[3]) for b in pose.bones.values()) < 1.0


def test_swing_matches_scipy_oracle() -> None:
    from rehab.stream.vmc import quaternion, swing

    rng = np.random.default_rng(3)
    for _ in range(50):
        a, b = (v / np.linalg.norm(v) for v in rng.normal(size=(2, 3)))
        r = swing(a, b)
        assert np.allclose(r @ a, b, atol=1e-9)
        ref = Rotation.from_rotvec(np.cross(a, b) / np.linalg.norm(np.cross(a, b))
                                   * np.arccos(np.clip(a @ b, -1, 1)))
        assert np.allclose(r, ref.as_matrix(), atol=1e-9)
        q = quaternion(r)
        assert np.allclose(Rotation.from_quat(q).as_matrix(), r, atol=1e-9)
    opposite = swing(np.array([-1.0, 0.0, 0.0]), np.array([1.0, 0.0, 0.0]))
    assert np.allclose(opposite @ [-1.0, 0.0, 0.0], [1.0, 0.0, 0.0])
    assert np.isclose(np.linalg.det(opposite), 1.0)


def test_no_person_no_bones() -> None:
    assert vmc_pose(None) is None
    nan = t_pose_world()
    nan[I["left_hip"]] = np.nan
    assert vmc_pose(nan) is None
    with pytest.raises(ValueError):
        vmc_pose(np.zeros((17, 3)))


def test_missing_limb_landmark_leaves_out_that_limb_below_it() -> None:
    w = t_pose_world()
    w[I["left_elbow"]] = np.nan
    w[I["right_foot_index"]] = np.inf
    pose = vmc_pose(w)
    assert pose is not None
    missing = {"LeftUpperArm", "LeftLowerArm", "LeftHand", "RightFoot"}
    assert set(BONES) - set(pose.bones) == missing
    assert [b for b in BONES if b not in missing] == list(pose.bones)


@pytest.mark.parametrize(("text", "target"), [
    (None, ("127.0.0.1", 39539)), ("", ("127.0.0.1", 39539)),
    ("192.168.1.20", ("192.168.1.20", 39539)), (":40000", ("127.0.0.1", 40000)),
    ("localhost:39540", ("localhost", 39540)), ("[::1]:39541", ("::1", 39541)),
    ("::1", ("::1", 39539)),
])
def test_parse_target(text: str | None, target: tuple[str, int]) -> None:
    assert parse_target(text) == target


@pytest.mark.parametrize("text", ["host:0", "host:70000", "host:abc", "host:-1", "[::1"])
def test_parse_target_bad_port(text: str) -> None:
    with pytest.raises(InputError) as err:
        parse_target(text)
    assert "\n" not in str(err.value)


def test_head_turn_is_a_head_yaw() -> None:
    """Face points turned 30 deg about the vertical (MediaPipe y) turn the Head bone by the
    same rotation about Unity's Y (a point reflection commutes with rotations)."""
    w = t_pose_world()
    face = [I[n] for n in LANDMARK_NAMES[:11]]
    centre = 0.5 * (w[I["left_ear"]] + w[I["right_ear"]])
    turn = Rotation.from_euler("y", 30.0, degrees=True)
    w[face] = centre + turn.apply(w[face] - centre)
    pose = vmc_pose(w)
    assert pose is not None
    assert np.allclose(pose.bones["Head"].rotation, turn.as_quat(), atol=1e-6)
    assert np.allclose(pose.bones["Neck"].rotation, (0.0, 0.0, 0.0, 1.0), atol=1e-6)


def test_hips_height_follows_a_squat() -> None:
    stand, squat = (vmc_pose(synthetic_world({"knee_flexion": k, "hip_flexion": k}))
                    for k in (0.0, 90.0))
    assert stand is not None and squat is not None
    # standing: mid-hip above the sole = thigh + shank + the foot's drop below the ankle
    assert stand.bones["Hips"].position[1] == pytest.approx(0.44 + 0.43, abs=0.02)
    assert squat.bones["Hips"].position[1] < stand.bones["Hips"].position[1] - 0.2
