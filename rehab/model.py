"""The data model every stage shares; it imports no stage.

- names: the 33 MediaPipe landmarks, the joint angles and `angle_column`, the one helper
  that names an angle column for a side;
- typed values: `Side`, `RepKind`, `Flag` (string enums: they compare equal to their text)
  and `Note` (a sentence with a code and data, so that notes can be grouped by code);
- stage results: `PoseSequence` (pose -> kinematics), `AngleSet` (kinematics),
  `Segment`/`Segmentation` (repetitions), `Rep` with its `Distances` (scoring), `Scale` and
  `CalibrationRef` (calibration), `Analysis` (one recording analysed), `SessionHeader` (what
  a stored session is about).

Serialisation of all of these (result JSON, CSV, store rows) is derived from the dataclass
fields in `rehab.codec`. Float fields carry ``metadata={"digits": n}``: the decimals written
to text files.
"""

from __future__ import annotations

import builtins
import dataclasses
import enum
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from rehab.errors import InputError
from rehab.settings import DEFAULT_SETTINGS, AnalysisSettings

if TYPE_CHECKING:  # type-only: exercise definitions build on this module
    from rehab.exercises import Exercise

RESULT_SCHEMA_VERSION = 3
"""Version of ``result.json`` (2: settings, typed scale/calibration, structured notes; 3: the
involved side, the view check, the symmetry index, the swap repair and what each rep rests on)."""

# --- names ---------------------------------------------------------------------------------

LANDMARK_NAMES: tuple[str, ...] = (
    "nose",
    "left_eye_inner", "left_eye", "left_eye_outer",
    "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear",
    "mouth_left", "mouth_right",
    "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow",
    "left_wrist", "right_wrist",
    "left_pinky", "right_pinky",
    "left_index", "right_index",
    "left_thumb", "right_thumb",
    "left_hip", "right_hip",
    "left_knee", "right_knee",
    "left_ankle", "right_ankle",
    "left_heel", "right_heel",
    "left_foot_index", "right_foot_index",
)
"""MediaPipe pose landmark names, in index order (33)."""

N_LANDMARKS = len(LANDMARK_NAMES)
LANDMARK_INDEX: dict[str, int] = {name: i for i, name in enumerate(LANDMARK_NAMES)}

SKELETON_EDGES: tuple[tuple[int, int], ...] = tuple(
    (LANDMARK_INDEX[a], LANDMARK_INDEX[b])
    for a, b in (
        ("left_shoulder", "right_shoulder"), ("left_hip", "right_hip"),
        ("left_shoulder", "left_hip"), ("right_shoulder", "right_hip"),
        ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
        ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
        ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
        ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
        ("left_ankle", "left_heel"), ("left_heel", "left_foot_index"),
        ("left_ankle", "left_foot_index"),
        ("right_ankle", "right_heel"), ("right_heel", "right_foot_index"),
        ("right_ankle", "right_foot_index"),
    )
)
"""Skeleton edges for drawing (pairs of landmark indices)."""

SIDED_ANGLE_NAMES: tuple[str, ...] = (
    "knee_flexion", "hip_flexion", "hip_abduction", "shoulder_flexion", "shoulder_abduction",
    "elbow_flexion", "ankle_plantarflexion")
"""Angles measured per side (``left_<name>``, ``right_<name>``), in kernel order."""
TRUNK_ANGLE_NAMES: tuple[str, ...] = ("trunk_lean", "pelvic_obliquity")
"""Angles of the trunk or pelvis (one value per frame)."""
SIDED_ANGLES: frozenset[str] = frozenset(SIDED_ANGLE_NAMES)
TRUNK_ANGLES: frozenset[str] = frozenset(TRUNK_ANGLE_NAMES)
ALL_ANGLES: frozenset[str] = SIDED_ANGLES | TRUNK_ANGLES

ANGLE_COLUMNS: tuple[str, ...] = tuple(
    f"{side}_{name}" for side in ("left", "right") for name in SIDED_ANGLE_NAMES
) + TRUNK_ANGLE_NAMES
"""Column names of the (T, 16) angle matrix, in kernel order."""


class Side(enum.StrEnum):
    """The side of the body an exercise is analysed on (``none`` for trunk angles)."""

    LEFT = "left"
    RIGHT = "right"
    NONE = "none"

    @property
    def other(self) -> "Side":
        """The opposite side (``none`` stays ``none``)."""
        return {Side.LEFT: Side.RIGHT, Side.RIGHT: Side.LEFT}.get(self, Side.NONE)


def angle_column(name: str, side: str | None) -> str:
    """The angle column of ``name`` on ``side``: ``right_knee_flexion``; trunk angles (and
    side None or ``none``) have one column, the bare name."""
    if name in TRUNK_ANGLES or side is None or side == Side.NONE:
        return name
    if side not in (Side.LEFT, Side.RIGHT):
        raise ValueError(f"side must be left, right or none, not {side!r}")
    return f"{side}_{name}"


def sides_of(name: str) -> tuple[Side, ...]:
    """The sides an angle is measured on: (none,) for a trunk angle, else (left, right)."""
    return (Side.NONE,) if name in TRUNK_ANGLES else (Side.LEFT, Side.RIGHT)


def column_side(column: str) -> tuple[str, str]:
    """(angle name, side) of an angle column: ``right_knee_flexion`` -> (knee_flexion,
    right); a trunk column -> (its name, none)."""
    for s in (Side.LEFT, Side.RIGHT):
        if column.startswith(f"{s}_"):
            return column[len(s) + 1:], str(s)
    return column, str(Side.NONE)


class RepKind(enum.StrEnum):
    """What a repetition candidate turned out to be; only complete ones count."""

    COMPLETE = "complete"
    PARTIAL_START = "partial_start"
    PARTIAL_END = "partial_end"
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    TOO_SMALL = "too_small"
    """Less than `AnalysisSettings.min_rep_fraction` of the recording's median rep."""
    HELD = "held"
    """One limb held still while the other did two or more reps (alternation)."""


class Flag(enum.StrEnum):
    """Why a repetition lost points (a compensation's flag is its exercise-defined id)."""

    SHORT_OF_TARGET = "short_of_target"
    BEYOND_TARGET = "beyond_target"
    TOO_FAST = "too_fast"
    TOO_SLOW = "too_slow"
    RUSHED = "rushed"
    TRACKING_LOST = "tracking_lost"
    WRONG_VIEW = "wrong_view"
    """The body was turned further from the exercise's view than the tolerance: a
    measurement warning (costs no points; lowers the rep's quality grade)."""
    SPARSE = "sparse"
    """The rep has a stretch without measurement long enough to hide a whole repetition:
    repetitions could have been merged or missed there."""


class NoteCode(enum.StrEnum):
    """What a note is about; the report groups notes by code."""

    PARTLY_MEASURED = "partly_measured"
    SIDE_CHOSEN = "side_chosen"
    SETTLED_START = "settled_start"
    """(Results before round 2's counting rules) the recording opened held in the active
    position."""
    ACTIVE_START = "active_start"
    ALTERNATING = "alternating"
    SPARSE = "sparse"
    VIEW = "view"
    """The camera view differs from the one the exercise names."""
    SWAPS = "swaps"
    """Left/right labels of the pose model were repaired or gated."""
    SYMMETRY = "symmetry"
    """Left and right compared (limb symmetry index)."""
    NOT_COUNTED = "not_counted"
    NO_REPS = "no_reps"
    NO_PERSON = "no_person"
    SEVERAL_PEOPLE = "several_people"
    UNLINKED = "unlinked_detections"
    ROTATED = "rotated"
    TIMESTAMPS_REPAIRED = "timestamps_repaired"
    UNDISTORTED = "undistorted"
    FRAMES_DROPPED = "frames_dropped"
    FRAME_RATE_LIMITED = "frame_rate_limited"
    POSE = "pose"
    LIVE_END = "live_end"
    LIVE = "live"
    RECORDING = "recording"
    TEXT = "text"
    """A note from before notes had codes (migrated), or from an unknown source."""


class Note(str):
    """A note: its sentence (the `str` value), a `code` and `data` (numbers it quotes).

    Being a string, a note prints, compares and searches as its sentence.
    """

    code: str
    data: Mapping[str, Any]

    def __new__(cls, code: str, text: str, data: Mapping[str, Any] | None = None) -> "Note":
        self = super().__new__(cls, text)
        self.code = str(code)
        self.data = dict(data or {})
        return self

    @property
    def text(self) -> str:
        """The sentence."""
        return str.__str__(self)

    def __reduce__(self) -> tuple[Any, ...]:
        return (Note, (self.code, self.text, dict(self.data)))

    @classmethod
    def of(cls, value: "str | Note | Mapping[str, Any]") -> "Note":
        """A note from a `Note`, a recorded ``{"code", "text", "data"}`` or plain text."""
        if isinstance(value, Note):
            return value
        if isinstance(value, Mapping):
            return cls(str(value.get("code") or NoteCode.TEXT), str(value.get("text", "")),
                       value.get("data") or {})
        return cls(NoteCode.TEXT, str(value))


# --- pose ----------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class PoseSequence:
    """Pose landmarks of one person over time, for T frames and the 33 landmarks.

    ``landmarks`` float32 (T, 33, 3): x, y normalised to image width/height, z relative
    depth; ``world`` float32 (T, 33, 3) metres, origin between the hips; ``visibility``
    float32 (T, 33) 0..1; ``timestamps`` float64 (T,) seconds from the container. Frames
    without a detected person are NaN in ``landmarks``/``world`` and 0 in ``visibility``.
    """

    landmarks: np.ndarray
    world: np.ndarray
    visibility: np.ndarray
    timestamps: np.ndarray
    fps: float
    width: int
    height: int
    source: str = ""
    model: str = ""
    model_sha256: str = ""
    notes: tuple[Note, ...] = ()
    swap_repaired: np.ndarray | None = None
    """Boolean (T,): frames where left/right labels of the pose model were exchanged back
    (`rehab.kinematics.swaps`); None when the sequence was never checked."""
    swap_gated: np.ndarray | None = None
    """Boolean (T,): frames where a swap could not be resolved and the limbs were gated."""

    def __post_init__(self) -> None:
        from rehab.limits import FPS

        if self.timestamps.ndim != 1:
            raise InputError("pose sequence: timestamps must be one-dimensional")
        t = self.timestamps.shape[0]
        frames = self.landmarks.shape[0] if self.landmarks.ndim else 0
        if frames != t:
            raise InputError(f"pose sequence: {t} timestamps for {frames} frames (the "
                             f"timestamps count differs from the frame count)")
        for name, arr, shape in (
            ("landmarks", self.landmarks, (t, N_LANDMARKS, 3)),
            ("world", self.world, (t, N_LANDMARKS, 3)),
            ("visibility", self.visibility, (t, N_LANDMARKS)),
        ):
            if arr.shape != shape:
                raise InputError(f"pose sequence: {name} has shape {arr.shape}, expected {shape}")
        if not np.all(np.isfinite(self.timestamps)):
            bad = int(np.flatnonzero(~np.isfinite(self.timestamps))[0])
            raise InputError(f"pose sequence: timestamp {bad} is {self.timestamps[bad]}; "
                             f"timestamps must be finite seconds")
        if t > 1 and np.any(np.diff(self.timestamps) <= 0):
            raise InputError("pose sequence: timestamps must be strictly increasing")
        if FPS.problem(float(self.fps)):
            raise InputError(f"pose sequence: fps is {float(self.fps):g}; the frame rate must be "
                             f"a finite number in {FPS} frames per second")
        if not all(not isinstance(v, bool) and isinstance(v, (int, float, np.integer,
                                                               np.floating))
                   and math.isfinite(v) and v == int(v) and v > 0
                   for v in (self.width, self.height)):
            raise InputError(f"pose sequence: bad image size {self.width}x{self.height} "
                             f"(width and height must be positive whole numbers of pixels)")
        object.__setattr__(self, "notes", tuple(Note.of(n) for n in self.notes))
        for mask in ("swap_repaired", "swap_gated"):
            value = getattr(self, mask)
            if value is not None:
                value = np.asarray(value, dtype=bool)
                if value.shape != (t,):
                    raise InputError(f"pose sequence: {mask} has shape {value.shape}, "
                                     f"expected ({t},)")
                value.setflags(write=False)
                object.__setattr__(self, mask, value)
        for arr in (self.landmarks, self.world, self.visibility, self.timestamps):
            arr.setflags(write=False)

    @property
    def n_frames(self) -> int:
        """Number of frames T."""
        return int(self.timestamps.shape[0])

    @property
    def detected(self) -> np.ndarray:
        """Boolean (T,): a person was detected in the frame."""
        return ~np.isnan(self.landmarks[:, 0, 0])

    @property
    def frames_with_pose(self) -> int:
        """How many frames have a detected person."""
        return int(self.detected.sum())

    @property
    def duration(self) -> float:
        """Seconds from the first to the last timestamp."""
        return float(self.timestamps[-1] - self.timestamps[0]) if self.n_frames else 0.0

    def pixels(self) -> np.ndarray:
        """Image coordinates in pixels, float64 (T, 33, 2)."""
        scale = np.array([self.width, self.height], dtype=np.float64)
        return self.landmarks[:, :, :2].astype(np.float64) * scale

    def replace(self, **changes: Any) -> "PoseSequence":
        """A copy with some fields replaced (inputs are never mutated)."""
        return dataclasses.replace(self, **changes)

    def slice(self, start: int, stop: int) -> "PoseSequence":
        """Frames ``start:stop`` as a new sequence."""
        return self.frames(slice(start, stop))

    def frames(self, which: "builtins.slice | np.ndarray") -> "PoseSequence":
        """Only the frames ``which`` selects (a slice, indices or a mask), each with its own
        timestamp, as a new sequence: frames removed, the source's frame rate kept."""
        return self.replace(
            landmarks=self.landmarks[which].copy(),
            world=self.world[which].copy(),
            visibility=self.visibility[which].copy(),
            timestamps=self.timestamps[which].copy(),
            swap_repaired=None if self.swap_repaired is None else self.swap_repaired[which],
            swap_gated=None if self.swap_gated is None else self.swap_gated[which],
        )

    @classmethod
    def empty(cls, n_frames: int, timestamps: np.ndarray, fps: float, width: int, height: int,
              **meta: Any) -> "PoseSequence":
        """A sequence with no detections (NaN landmarks, zero visibility)."""
        return cls(
            landmarks=np.full((n_frames, N_LANDMARKS, 3), np.nan, np.float32),
            world=np.full((n_frames, N_LANDMARKS, 3), np.nan, np.float32),
            visibility=np.zeros((n_frames, N_LANDMARKS), np.float32),
            timestamps=np.asarray(timestamps, np.float64),
            fps=fps, width=width, height=height, **meta,
        )


# --- kinematics ----------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class AngleSet:
    """Raw joint angles of a sequence: ``values`` (T, 16) degrees, NaN where not measurable."""

    values: np.ndarray
    timestamps: np.ndarray
    space: Literal["image", "world", "fused"]

    def __getitem__(self, column: str) -> np.ndarray:
        return self.values[:, ANGLE_COLUMNS.index(column)]

    def column(self, name: str, side: str | None = None) -> np.ndarray:
        """One angle by its exercise name (``knee_flexion``) and side (None for trunk)."""
        return self[angle_column(name, side)]


# --- repetitions ---------------------------------------------------------------------------

StartState = Literal["rest", "active", "settled", "between", "none"]
RestPosition = Literal["low", "high"]


@dataclasses.dataclass(frozen=True)
class Segment:
    """One repetition candidate: frame indices into the sequence and its kind."""

    start: int
    peak: int
    end: int
    kind: RepKind
    rest_start: int = -1
    """Lowest point of the rest before the rep (<= start); angles are measured from here."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", RepKind(self.kind))

    @property
    def counted(self) -> bool:
        """Only complete repetitions count."""
        return self.kind == RepKind.COMPLETE


@dataclasses.dataclass(frozen=True)
class Segmentation:
    """Result of segmenting one signal."""

    segments: tuple[Segment, ...]
    low_threshold: float
    high_threshold: float
    rest_level: float
    active_level: float
    start_state: StartState
    """Where the recording opens: at rest, in the active position (its return counted as
    the first rep), or between (on the way back from a rep whose peak was not seen);
    ``settled`` only in results made before round 2's counting rules."""
    rest_position: RestPosition
    """The exercise's rest position on the angle axis."""
    rise_deg: float = math.nan
    """How far the angle must rise above a rep's start for the rep to begin (degrees)."""

    @property
    def reps(self) -> tuple[Segment, ...]:
        """Counted repetitions."""
        return tuple(s for s in self.segments if s.counted)

    @property
    def count(self) -> int:
        return len(self.reps)


# --- scoring -------------------------------------------------------------------------------

def _cm(doc: str) -> Any:
    return dataclasses.field(default=None, metadata={"digits": 2, "doc": doc})


@dataclasses.dataclass(frozen=True)
class Distances:
    """Distances of one rep in centimetres (None where not measured); needs a `Scale`."""

    hip_excursion_cm: float | None = _cm("vertical travel of the mid-hip during the rep")
    hip_drop_cm: float | None = _cm("lowest mid-hip below its start")
    heel_rise_left_cm: float | None = _cm("left heel's rise above its start")
    heel_rise_right_cm: float | None = _cm("right heel's rise above its start")
    heel_rise_cm: float | None = _cm("the larger heel rise")
    ankle_separation_start_cm: float | None = _cm("ankle separation at the rep's start")
    ankle_separation_max_cm: float | None = _cm("largest ankle separation")
    ankle_separation_change_cm: float | None = _cm("step length: change in ankle separation")


@dataclasses.dataclass(frozen=True)
class Rep:
    """One scored repetition (times in seconds of the recording, angles in degrees)."""

    index: int
    """1-based among counted reps; 0 for a candidate that was not counted."""
    kind: RepKind
    start_frame: int
    peak_frame: int
    end_frame: int
    start_s: float = dataclasses.field(metadata={"digits": 4})
    peak_s: float = dataclasses.field(metadata={"digits": 4})
    end_s: float = dataclasses.field(metadata={"digits": 4})
    min_deg: float = dataclasses.field(metadata={"digits": 3})
    max_deg: float = dataclasses.field(metadata={"digits": 3})
    rom_deg: float = dataclasses.field(metadata={"digits": 3})
    """In-rep excursion (max - min)."""
    peak_deg: float = dataclasses.field(metadata={"digits": 3})
    """The rep's extreme away from the exercise's rest: what the target band refers to."""
    target_met: bool = dataclasses.field()
    duration_s: float = dataclasses.field(metadata={"digits": 4})
    time_to_peak_s: float = dataclasses.field(metadata={"digits": 4})
    tracked_fraction: float = dataclasses.field(metadata={"digits": 4})
    compensations: dict[str, float | None] = dataclasses.field(metadata={"digits": 3})
    """Each compensation's measured value by id (None where not measurable)."""
    score: int = dataclasses.field()
    flags: tuple[str, ...] = dataclasses.field()
    """`Flag` values and the ids of compensations over their limits."""
    distances_cm: Distances | None = None
    """Distances in centimetres (when the analysis had a scale)."""
    side: str = ""
    """The side that did this rep (``left``/``right``; ``none`` for trunk angles; empty in
    results made before sides were recorded per rep)."""
    left_peak_deg: float | None = dataclasses.field(default=None, metadata={"digits": 3})
    """The left side's peak in the rep (None where the left side was not seen)."""
    right_peak_deg: float | None = dataclasses.field(default=None, metadata={"digits": 3})
    left_rom_deg: float | None = dataclasses.field(default=None, metadata={"digits": 3})
    """The left side's excursion in the rep, from the rest before it to its peak."""
    right_rom_deg: float | None = dataclasses.field(default=None, metadata={"digits": 3})
    symmetry_pct: float | None = dataclasses.field(default=None, metadata={"digits": 2})
    """Limb symmetry index of a bilateral rep: involved over uninvolved side's range of
    motion x 100 (None unless both sides were seen)."""
    view_deg: float | None = dataclasses.field(default=None, metadata={"digits": 2})
    """The body's median orientation to the camera in the rep (0 front, 90 side)."""
    visibility: float | None = dataclasses.field(default=None, metadata={"digits": 3})
    """Mean visibility of the counted limb's landmarks in the rep."""
    rest_frame: int = -1
    """The frame of the rest before the rep that its range of motion is measured from (-1
    in results made before it was recorded)."""
    swapped_frames: int = 0
    """Frames of the rep whose left/right labels were repaired or gated."""
    quality: str = ""
    """Measurement quality grade: ``good``, ``fair`` or ``poor`` (`rehab.scoring.grade`);
    empty in results made before grades existed."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", RepKind(self.kind))
        object.__setattr__(self, "flags", tuple(
            Flag(f) if f in Flag.__members__.values() else str(f) for f in self.flags))

    @property
    def counted(self) -> bool:
        return self.kind == RepKind.COMPLETE


RepScore = Rep
"""The former name of `Rep`."""


# --- calibration ---------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Scale:
    """Centimetres per pixel in the measurement plane, and where the number came from."""

    cm_per_px: float
    source: str
    detail: str = ""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.cm_per_px) and self.cm_per_px > 0):
            raise InputError(f"scale must be a positive number of cm per pixel, got "
                             f"{self.cm_per_px}")

    def to_cm(self, pixels: Any) -> Any:
        """Convert a length in pixels (a number or an array) to centimetres."""
        return pixels * self.cm_per_px


@dataclasses.dataclass(frozen=True)
class CalibrationRef:
    """The camera calibration a sequence was undistorted with."""

    file: str
    name: str
    width: int
    height: int
    rms_px: float | None = dataclasses.field(default=None, metadata={"digits": 4})


@dataclasses.dataclass(frozen=True)
class LiveInfo:
    """How a live session went (for an `Analysis` made from one)."""

    end_reason: str
    prescribed_reps: int
    prescribed_sets: int
    sets_done: int


# --- measurement checks --------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class ViewCheck:
    """The body's orientation to the camera over a session, against the exercise's view."""

    expected: str
    """The exercise's view: ``side``, ``front`` or ``any``."""
    orientation_deg: float | None = dataclasses.field(metadata={"digits": 2})
    """Median orientation (0 = facing the camera or turned away, 90 = side on)."""
    deviation_deg: float | None = dataclasses.field(metadata={"digits": 2})
    """Median deviation from the expected view (None for ``any``)."""
    off_fraction: float = dataclasses.field(metadata={"digits": 4})
    """Share of measured frames beyond the tolerance."""
    tolerance_deg: float = dataclasses.field(metadata={"digits": 2})
    measured_fraction: float = dataclasses.field(metadata={"digits": 4})
    """Share of frames with a person whose orientation could be measured."""

    @property
    def warning(self) -> bool:
        """The median deviation is beyond the tolerance."""
        return self.deviation_deg is not None and self.deviation_deg > self.tolerance_deg


@dataclasses.dataclass(frozen=True)
class Symmetry:
    """Left against right for one session: each side's median range of motion over the reps
    where it was seen and the limb symmetry index (involved / uninvolved x 100)."""

    involved: str
    """The side taken as involved: the affected side; without one, for a bilateral exercise
    the side with less range of motion over the session's reps, for an alternating one the
    analysed side."""
    basis: Literal["bilateral", "alternating"]
    """``bilateral``: both sides measured in each rep (median of the per-rep indices);
    ``alternating``: each side's own reps (ratio of the two medians)."""
    left_rom_deg: float | None = dataclasses.field(metadata={"digits": 3})
    right_rom_deg: float | None = dataclasses.field(metadata={"digits": 3})
    index_pct: float | None = dataclasses.field(metadata={"digits": 2})
    reps: int = 0
    """How many reps the index rests on."""


@dataclasses.dataclass(frozen=True)
class SwapSummary:
    """What the swap repair did over the recording."""

    repaired_frames: int
    gated_frames: int
    by_group: dict[str, list[int]] = dataclasses.field(default_factory=dict)
    """Per body group (arms, legs, face): [frames exchanged, frames gated]."""


# --- analysis ------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Analysis:
    """Everything the analysis of one recording produced."""

    exercise: "Exercise"
    side: str
    sequence: PoseSequence
    angles: AngleSet
    smoothed: dict[str, np.ndarray]
    """Smoothed signals by name: ``primary`` and each compensation id."""
    segmentation: Segmentation
    reps: tuple[Rep, ...]
    """Counted repetitions, in order."""
    partial: tuple[Rep, ...]
    """Candidates that were not counted (partial at the edges, too short, too long)."""
    side_scores: dict[str, float]
    notes: tuple[Note, ...]
    settings: AnalysisSettings = DEFAULT_SETTINGS
    calibration: CalibrationRef | None = None
    scale: Scale | None = None
    live: LiveInfo | None = None
    alternating: bool = False
    """A one-sided exercise done with the left and the right limb in turn: the reps of both
    sides were counted and merged in time (each `Rep.side` says which)."""
    involved: str = ""
    """The affected side the analysis was asked for (patient record, prescription or
    ``--side``): ``left``, ``right``, ``both``; empty when left to ``auto``."""
    view: "ViewCheck | None" = None
    """How the body was turned to the camera, against the exercise's view."""
    symmetry: "Symmetry | None" = None
    """Left against right over the session (None when a side was never seen)."""
    swaps: "SwapSummary | None" = None
    """Left/right label swaps repaired and frames gated before the angles."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "notes", tuple(Note.of(n) for n in self.notes))

    @property
    def rep_count(self) -> int:
        return len(self.reps)

    @property
    def primary_column(self) -> str:
        """The counted angle's column, e.g. ``right_knee_flexion``."""
        return angle_column(self.exercise.counting.angle, self.side)

    def replace(self, **changes: Any) -> "Analysis":
        """A copy with some fields replaced."""
        return dataclasses.replace(self, **changes)


# --- sessions ------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class SessionHeader:
    """What a stored session is about (everything but its patient, times, reps and files)."""

    exercise_id: str
    exercise_name: str
    side: str
    angle: str
    """Primary angle column, e.g. ``right_knee_flexion``."""
    rest: RestPosition
    """The exercise's rest position on the primary angle."""
    mode: Literal["offline", "live", "batch"]
    source: str = ""
    model: str = ""
    model_sha256: str = ""
    target_min: float | None = None
    target_max: float | None = None
    angle_space: str = "image"
    settings: AnalysisSettings = DEFAULT_SETTINGS
    calibration: CalibrationRef | None = None
    scale: Scale | None = None

    @property
    def settings_hash(self) -> str:
        return self.settings.short_hash()

    @classmethod
    def for_exercise(cls, exercise: "Exercise", side: str, mode: Literal[
            "offline", "live", "batch"], **fields: Any) -> "SessionHeader":
        """A header for ``exercise`` on ``side`` (name, angle, rest, target, settings)."""
        base: dict[str, Any] = dict(
            exercise_id=exercise.id, exercise_name=exercise.name, side=str(side),
            angle=angle_column(exercise.counting.angle, side), rest=exercise.counting.rest,
            mode=mode, target_min=exercise.target.min_deg, target_max=exercise.target.max_deg,
            angle_space=exercise.counting.space, settings=exercise.settings)
        base.update(fields)
        return cls(**base)

    @classmethod
    def of_analysis(cls, analysis: Analysis, mode: Literal["offline", "live", "batch"]
                    ) -> "SessionHeader":
        """The header of a finished analysis."""
        seq = analysis.sequence
        return cls.for_exercise(
            analysis.exercise, analysis.side, mode, source=seq.source, model=seq.model,
            model_sha256=seq.model_sha256, angle_space=analysis.angles.space,
            settings=analysis.settings, calibration=analysis.calibration,
            scale=analysis.scale)


@dataclasses.dataclass(frozen=True)
class AnalysisRecord:
    """What the store keeps of a finished analysis besides its files, without per-frame
    data other than the primary angle trace: small enough to travel from a batch worker to
    the client that stores it (`Store.record_result`)."""

    header: SessionHeader
    duration_s: float
    reps: tuple[Rep, ...]
    """Counted and uncounted repetitions, in time order."""
    rep_count: int
    notes: tuple[Note, ...]
    start_state: str
    low_threshold: float
    high_threshold: float
    alternating: bool
    involved: str
    view: "ViewCheck | None"
    symmetry: "Symmetry | None"
    swaps: "SwapSummary | None"
    trace_t: np.ndarray
    """Seconds of each frame."""
    trace_deg: np.ndarray
    """Smoothed primary angle, degrees (NaN where unmeasured)."""

    @classmethod
    def of(cls, analysis: Analysis, mode: Literal["offline", "live", "batch"]
           ) -> "AnalysisRecord":
        """The record of ``analysis`` for a session of ``mode``."""
        seg = analysis.segmentation
        return cls(
            header=SessionHeader.of_analysis(analysis, mode),
            duration_s=float(analysis.sequence.duration),
            reps=tuple(sorted(list(analysis.reps) + list(analysis.partial),
                              key=lambda r: r.start_frame)),
            rep_count=analysis.rep_count, notes=analysis.notes,
            start_state=str(seg.start_state), low_threshold=float(seg.low_threshold),
            high_threshold=float(seg.high_threshold), alternating=bool(analysis.alternating),
            involved=analysis.involved, view=analysis.view, symmetry=analysis.symmetry,
            swaps=analysis.swaps,
            trace_t=np.asarray(analysis.sequence.timestamps, np.float64),
            trace_deg=np.asarray(analysis.smoothed["primary"], np.float64))

    @property
    def counted(self) -> tuple[Rep, ...]:
        """The counted repetitions."""
        return tuple(r for r in self.reps if r.counted)
