"""The exercise library: shipped definitions and the loader's validation."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from rehab.errors import ConfigError
from rehab.exercises import (
    ALL_ANGLES,
    SIDED_ANGLES,
    TRUNK_ANGLES,
    Cues,
    Exercise,
    Tempo,
    _load_library,
    builtin_exercises_dir,
    get_exercise,
    load_exercise_file,
    load_library,
    view_cue,
)

EXERCISES_DIR = Path(__file__).resolve().parents[2] / "exercises"
SHIPPED = sorted(EXERCISES_DIR.glob("*.toml"))

REQUIRED_IDS = {
    "squat", "sit_to_stand", "lunge", "side_lunge", "knee_extension", "straight_leg_raise",
    "heel_raise", "hip_abduction", "bridge", "hip_hinge", "shoulder_flexion",
    "shoulder_abduction", "shoulder_press", "elbow_flexion", "elbow_extension", "push_up",
    "jumping_jack",
}

# Normal active range per counting angle (AAOS 1965; knee up to ~141 in other norms).
NORMS = {
    "knee_flexion": (0.0, 141.0),
    "hip_flexion": (0.0, 120.0),
    "hip_abduction": (0.0, 45.0),
    "shoulder_flexion": (0.0, 180.0),
    "shoulder_abduction": (0.0, 180.0),
    "elbow_flexion": (0.0, 150.0),
    "ankle_plantarflexion": (-20.0, 50.0),
}

# Typical angle in the rest position of the rest="high" exercises (the rest of rest="low" ones
# is ~0): a rep must be able to reach the target band with room to spare above min_amplitude.
HIGH_REST_DEG = {
    "sit_to_stand": 90.0,      # seated knee
    "knee_extension": 90.0,    # seated knee
    "bridge": 45.0,            # hook-lying hip (45-60)
    "shoulder_press": 90.0,    # elbow with the weights at shoulder height
    "elbow_extension": 120.0,  # elbow with the hand behind the head (120-150)
}

# Frontal-plane movements must be filmed from the front, sagittal ones from the side.
EXPECTED_VIEW = {
    "hip_abduction": "front", "shoulder_abduction": "front", "jumping_jack": "front",
    "side_lunge": "front", "shoulder_press": "front",
    "squat": "side", "sit_to_stand": "side", "lunge": "side", "knee_extension": "side",
    "straight_leg_raise": "side", "heel_raise": "side", "bridge": "side", "hip_hinge": "side",
    "shoulder_flexion": "side", "elbow_flexion": "side", "elbow_extension": "side",
    "push_up": "side",
}


@pytest.fixture(autouse=True)
def _clean_library(monkeypatch):
    """No user folder from the environment; a fresh library cache for every test."""
    monkeypatch.delenv("REHAB_EXERCISES_DIR", raising=False)
    _load_library.cache_clear()
    yield
    _load_library.cache_clear()


# --- the shipped definitions -----------------------------------------------------------------

def test_builtin_dir_is_the_source_folder():
    assert builtin_exercises_dir().resolve() == EXERCISES_DIR


def test_all_required_ids_present():
    library = load_library()
    assert REQUIRED_IDS <= set(library)
    assert len(SHIPPED) == len(library)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_file_loads_and_is_sane(path):
    ex = load_exercise_file(path)
    assert isinstance(ex, Exercise)
    assert ex.id == path.stem
    assert ex.path == str(path)
    assert ex.name.strip() and ex.description.strip()
    assert len(ex.sources) >= 1
    assert all(len(s) > 20 for s in ex.sources)
    assert ex.counting.angle in SIDED_ANGLES  # every shipped exercise counts a limb angle
    assert ex.counting.space == "image"
    assert ex.landmarks, "list the landmarks that must be visible"
    # tempo and durations
    assert 0 < ex.tempo.min_to_peak_s < ex.tempo.min_rep_s <= ex.tempo.max_rep_s
    assert 0 < ex.counting.min_duration_s < ex.counting.max_duration_s
    assert ex.counting.min_duration_s <= ex.tempo.min_rep_s
    assert ex.tempo.max_rep_s <= ex.counting.max_duration_s
    # cues are all written out, short and patient-facing
    for f in dataclasses.fields(Cues):
        cue = getattr(ex.cues, f.name) if f.name != "wrong_view" else view_cue(ex)
        assert cue.strip() and len(cue) <= 90, (f.name, cue)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_target_within_anatomical_norms(path):
    ex = load_exercise_file(path)
    lo, hi = NORMS[ex.counting.angle]
    assert ex.target.min_deg <= ex.target.max_deg
    assert lo <= ex.target.min_deg
    assert ex.target.max_deg <= hi


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_min_amplitude_below_target(path):
    ex = load_exercise_file(path)
    amp = ex.counting.min_amplitude_deg
    assert 10 <= amp <= 30
    if ex.counting.rest == "low":
        excursion_to_target = ex.target.min_deg  # rest is ~0
    else:
        excursion_to_target = HIGH_REST_DEG[ex.id] - ex.target.max_deg
    assert amp < excursion_to_target


def test_high_rest_table_covers_exactly_the_high_rest_exercises():
    library = load_library()
    assert {i for i, e in library.items() if e.counting.rest == "high"} == set(HIGH_REST_DEG)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_compensations_are_sane(path):
    ex = load_exercise_file(path)
    ids = [c.id for c in ex.compensations]
    assert len(ids) == len(set(ids))
    for c in ex.compensations:
        assert c.angle in ALL_ANGLES
        assert c.angle != ex.counting.angle or c.side == "opposite"
        assert 0 < c.max_deg <= 60
        assert c.cue.strip() and c.description.strip()
        if c.angle in TRUNK_ANGLES:
            assert c.side == "none"
        else:
            assert c.side in ("same", "opposite")


def test_views_and_counting_choices():
    library = load_library()
    assert {i: library[i].view for i in EXPECTED_VIEW} == EXPECTED_VIEW
    expected = {
        "squat": ("knee_flexion", "low"),
        "sit_to_stand": ("knee_flexion", "high"),
        "lunge": ("knee_flexion", "low"),
        "side_lunge": ("knee_flexion", "low"),
        "knee_extension": ("knee_flexion", "high"),
        "straight_leg_raise": ("hip_flexion", "low"),
        "heel_raise": ("ankle_plantarflexion", "low"),
        "hip_abduction": ("hip_abduction", "low"),
        "bridge": ("hip_flexion", "high"),
        "hip_hinge": ("hip_flexion", "low"),
        "shoulder_flexion": ("shoulder_flexion", "low"),
        "shoulder_abduction": ("shoulder_abduction", "low"),
        "shoulder_press": ("elbow_flexion", "high"),
        "elbow_flexion": ("elbow_flexion", "low"),
        "elbow_extension": ("elbow_flexion", "high"),
        "push_up": ("elbow_flexion", "low"),
        "jumping_jack": ("shoulder_abduction", "low"),
    }
    got = {i: (library[i].counting.angle, library[i].counting.rest) for i in expected}
    assert got == expected
    bilateral = {i for i in REQUIRED_IDS if library[i].bilateral}
    assert bilateral == {"squat", "sit_to_stand", "heel_raise", "bridge", "hip_hinge",
                         "shoulder_press", "push_up", "jumping_jack"}


def test_named_compensations():
    library = load_library()

    def comp(ex_id, comp_id):
        return {c.id: c for c in library[ex_id].compensations}[comp_id]

    c = comp("elbow_flexion", "elbow_drift")
    assert (c.angle, c.measure, c.side, c.max_deg) == ("shoulder_flexion", "change", "same", 20)
    c = comp("hip_abduction", "hip_hike")
    assert (c.angle, c.measure, c.side) == ("pelvic_obliquity", "change", "none")
    c = comp("straight_leg_raise", "knee_bend")
    assert (c.angle, c.measure, c.side) == ("knee_flexion", "peak", "same")
    c = comp("side_lunge", "straight_leg_bends")
    assert (c.angle, c.side) == ("knee_flexion", "opposite")
    c = comp("push_up", "hip_sag_or_pike")
    assert (c.angle, c.measure) == ("hip_flexion", "peak")
    for ex_id in ("squat", "lunge", "sit_to_stand"):
        c = comp(ex_id, "trunk_lean")
        assert (c.angle, c.measure) == ("trunk_lean", "peak")
    for ex_id in ("shoulder_flexion", "shoulder_abduction"):
        assert any(c.angle == "trunk_lean" and c.measure == "change"
                   for c in library[ex_id].compensations)


def test_jumping_jack_is_fast():
    jj = get_exercise("jumping_jack")
    assert jj.tempo.min_rep_s == 0.5
    assert jj.counting.min_duration_s < 0.5
    assert jj.tempo.max_rep_s <= 5


def test_readme_documents_every_shipped_exercise_and_key():
    text = (EXERCISES_DIR / "README.md").read_text(encoding="utf-8")
    for path in SHIPPED:
        assert f"`{path.stem}`" in text, path.stem
    for name in ALL_ANGLES:
        assert f"`{name}`" in text, name
    for key in ("min_amplitude_deg", "min_duration_s", "max_duration_s", "min_rep_s",
                "max_rep_s", "min_to_peak_s", "REHAB_EXERCISES_DIR", "measure", "side"):
        assert key in text, key


def test_readme_example_loads(tmp_path):
    text = (EXERCISES_DIR / "README.md").read_text(encoding="utf-8")
    example = text.split("## Example", 1)[1].split("```toml\n", 1)[1].split("```", 1)[0]
    ex = load_exercise_file(write(tmp_path, example, stem="wall_squat"))
    assert ex.id == "wall_squat"
    assert ex.counting.angle == "knee_flexion" and ex.counting.rest == "low"
    assert ex.counting.min_amplitude_deg < ex.target.min_deg
    assert [c.id for c in ex.compensations] == ["trunk_lean"]


# --- the loader's errors ---------------------------------------------------------------------

BASE = """\
id = "demo"
name = "Demo"
view = "side"
bilateral = true
sources = ["Test source, 2024."]

[counting]
angle = "knee_flexion"

[target]
min_deg = 60
max_deg = 120
"""

COMP = """
[[compensations]]
id = "lean"
angle = "trunk_lean"
max_deg = 30
"""


def write(folder: Path, text: str, stem: str = "demo") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def load_error(tmp_path: Path, text: str, stem: str = "demo") -> tuple[Path, str]:
    path = write(tmp_path, text, stem)
    with pytest.raises(ConfigError) as info:
        load_exercise_file(path)
    return path, str(info.value)


def test_minimal_file_gets_defaults(tmp_path):
    ex = load_exercise_file(write(tmp_path, BASE + COMP))
    assert ex.id == "demo"
    assert ex.description == ""
    assert ex.landmarks == ()
    assert ex.counting.space == "image"
    assert ex.counting.rest == "low"
    assert ex.counting.min_amplitude_deg == 20.0
    assert ex.counting.min_duration_s == 0.5
    assert ex.counting.max_duration_s == 20.0
    assert ex.tempo == Tempo()
    assert ex.cues == Cues()
    assert ex.target.min_deg == 60.0 and ex.target.max_deg == 120.0
    (c,) = ex.compensations
    assert (c.id, c.angle, c.max_deg, c.measure) == ("lean", "trunk_lean", 30.0, "peak")
    assert c.side == "none"  # trunk angles have no side, whatever the default says
    assert ex.joint == "knee"


def test_integers_become_floats(tmp_path):
    ex = load_exercise_file(write(tmp_path, BASE))
    assert isinstance(ex.target.min_deg, float)


def test_malformed_toml(tmp_path):
    path, msg = load_error(tmp_path, BASE + "\n[counting\n")
    assert msg.startswith(f"{path}: malformed TOML: ")


def test_missing_file(tmp_path):
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match="cannot read"):
        load_exercise_file(path)


def test_unknown_top_level_key(tmp_path):
    path, msg = load_error(tmp_path, 'colour = "red"\n' + BASE)
    assert msg.startswith(f"{path}: key 'colour': unknown key (allowed: ")
    assert "bilateral" in msg and "compensations" in msg


def test_unknown_nested_key(tmp_path):
    path, msg = load_error(tmp_path, BASE.replace('angle = "knee_flexion"',
                                                  'angle = "knee_flexion"\nrepetitions = 10'))
    assert msg.startswith(f"{path}: key 'counting.repetitions': unknown key (allowed: ")
    assert "min_amplitude_deg" in msg


def test_unknown_key_in_tempo_and_cues(tmp_path):
    path, msg = load_error(tmp_path, BASE + "\n[tempo]\nmax_reps_s = 5\n")
    assert msg.startswith(f"{path}: key 'tempo.max_reps_s': unknown key")
    path, msg = load_error(tmp_path, BASE + '\n[cues]\nwell_done = "Yes"\n')
    assert msg.startswith(f"{path}: key 'cues.well_done': unknown key")


def test_unknown_key_in_compensation(tmp_path):
    path, msg = load_error(tmp_path, BASE + COMP + "severity = 2\n")
    assert msg.startswith(f"{path}: key 'compensations[0].severity': unknown key")


@pytest.mark.parametrize("old, new, key, expected", [
    ("bilateral = true", 'bilateral = "yes"', "bilateral", "expected true or false, got 'yes'"),
    ('name = "Demo"', "name = 3", "name", "expected a string, got 3"),
    ("min_deg = 60", 'min_deg = "60"', "target.min_deg", "expected a number, got '60'"),
    ("min_deg = 60", "min_deg = true", "target.min_deg", "expected a number, got True"),
    ('view = "side"', 'view = "top"', "view", "'top' is not one of 'side', 'front', 'any'"),
    ('angle = "knee_flexion"', 'angle = "knee_flexion"\nrest = "middle"', "counting.rest",
     "'middle' is not one of 'low', 'high'"),
    ('angle = "knee_flexion"', 'angle = "knee_flexion"\nspace = "3d"', "counting.space",
     "'3d' is not one of 'image', 'world'"),
    ('angle = "knee_flexion"', 'angle = "knee_flexion"\nmin_amplitude_deg = 0',
     "counting.min_amplitude_deg", "must be a positive number (range (0, 180]), not 0"),
    ('sources = ["Test source, 2024."]', "sources = []", "sources",
     "cite at least one source for the default target"),
    ('sources = ["Test source, 2024."]', 'sources = "Test source"', "sources",
     "expected an array of strings"),
    ('view = "side"', 'view = "side"\nlandmarks = ["left_knee", "left_kneecap"]', "landmarks",
     "unknown landmark 'left_kneecap'"),
])
def test_bad_value(tmp_path, old, new, key, expected):
    assert old in BASE
    path, msg = load_error(tmp_path, BASE.replace(old, new, 1))
    assert msg == f"{path}: key '{key}': {expected}"


def test_unknown_counting_angle(tmp_path):
    path, msg = load_error(tmp_path, BASE.replace('"knee_flexion"', '"left_knee_flexion"'))
    assert msg.startswith(f"{path}: key 'counting.angle': unknown angle 'left_knee_flexion' "
                          "(known: ")
    assert "knee_flexion" in msg and "trunk_lean" in msg


def test_unknown_compensation_angle(tmp_path):
    path, msg = load_error(tmp_path, BASE + COMP.replace('"trunk_lean"', '"neck_tilt"'))
    assert msg == f"{path}: key 'compensations[0].angle': unknown angle 'neck_tilt'"


def test_bad_compensation_measure_and_side(tmp_path):
    path, msg = load_error(tmp_path, BASE + COMP + 'measure = "max"\n')
    assert msg == f"{path}: key 'compensations[0].measure': 'max' is not one of 'peak', 'change'"
    path, msg = load_error(tmp_path, BASE + COMP + 'side = "left"\n')
    assert msg == (f"{path}: key 'compensations[0].side': "
                   "'left' is not one of 'same', 'opposite', 'none'")


def test_compensations_must_be_tables(tmp_path):
    path, msg = load_error(tmp_path, BASE.replace('view = "side"',
                                                  'view = "side"\ncompensations = "none"'))
    assert msg == f"{path}: key 'compensations': expected an array of tables ([[compensations]])"


def test_target_min_greater_than_max(tmp_path):
    path, msg = load_error(tmp_path, BASE.replace("min_deg = 60", "min_deg = 130"))
    assert msg == f"{path}: key 'target': min_deg 130 is greater than max_deg 120"


def test_tempo_min_greater_than_max(tmp_path):
    path, msg = load_error(tmp_path, BASE + "\n[tempo]\nmin_rep_s = 8\nmax_rep_s = 4\n")
    assert msg == f"{path}: key 'tempo': min_rep_s is greater than max_rep_s"


@pytest.mark.parametrize("key", ["id", "name", "view", "bilateral", "sources"])
def test_missing_required_top_level_key(tmp_path, key):
    lines = [ln for ln in BASE.splitlines() if not ln.startswith(f"{key} =")]
    assert len(lines) == len(BASE.splitlines()) - 1
    path, msg = load_error(tmp_path, "\n".join(lines) + "\n")
    assert msg == f"{path}: key '{key}': missing"


COUNTING_BLOCK = '[counting]\nangle = "knee_flexion"\n\n'


@pytest.mark.parametrize("table", ["counting", "target"])
def test_missing_required_table(tmp_path, table):
    if table == "counting":
        text = BASE.replace(COUNTING_BLOCK, "")
    else:
        text = BASE.split("[target]")[0]
    assert text != BASE
    path, msg = load_error(tmp_path, text)
    assert msg == f"{path}: key '{table}': missing"


def test_missing_nested_keys(tmp_path):
    path, msg = load_error(tmp_path, BASE.replace("max_deg = 120\n", ""))
    assert msg == f"{path}: key 'target.max_deg': missing"
    path, msg = load_error(tmp_path, BASE.replace('angle = "knee_flexion"\n', ""))
    assert msg == f"{path}: key 'counting.angle': missing"
    path, msg = load_error(tmp_path, BASE + COMP.replace("max_deg = 30\n", ""))
    assert msg == f"{path}: key 'compensations[0].max_deg': missing"


def test_section_must_be_a_table(tmp_path):
    text = BASE.replace(COUNTING_BLOCK, "").replace('view = "side"',
                                                    'view = "side"\ncounting = "knee"')
    path, msg = load_error(tmp_path, text)
    assert msg == f"{path}: key 'counting': expected a table"


def test_id_must_match_file_name(tmp_path):
    path, msg = load_error(tmp_path, BASE, stem="other")
    assert msg == f"{path}: key 'id': 'demo' does not match the file name 'other'"


def test_id_must_be_lower_case_identifier(tmp_path):
    path, msg = load_error(tmp_path, BASE.replace('id = "demo"', 'id = "Demo-1"'), stem="Demo-1")
    assert msg == f"{path}: key 'id': 'Demo-1' must be lower-case letters, digits and underscores"


# --- library, user folders, lookup -----------------------------------------------------------

def test_env_folder_adds_an_exercise(tmp_path, monkeypatch):
    user = tmp_path / "mine"
    write(user, BASE.replace('"demo"', '"wall_squat"'), stem="wall_squat")
    monkeypatch.setenv("REHAB_EXERCISES_DIR", str(user))
    library = load_library()
    assert "wall_squat" in library
    assert REQUIRED_IDS <= set(library)
    ex = get_exercise("wall_squat")
    assert ex.path == str(user / "wall_squat.toml")
    assert ex.name == "Demo"


def test_env_folder_overrides_a_builtin(tmp_path, monkeypatch):
    builtin = get_exercise("squat")
    assert builtin.target.min_deg == 80
    user = tmp_path / "mine"
    write(user, BASE.replace('"demo"', '"squat"').replace('"Demo"', '"Shallow squat"'),
          stem="squat")
    monkeypatch.setenv("REHAB_EXERCISES_DIR", str(user))
    _load_library.cache_clear()
    ex = get_exercise("squat")
    assert ex.name == "Shallow squat"
    assert (ex.target.min_deg, ex.target.max_deg) == (60.0, 120.0)
    assert ex.path == str(user / "squat.toml")
    assert len(load_library()) == len(SHIPPED)


def test_extra_dir_overrides_env_dir(tmp_path, monkeypatch):
    env_dir, extra = tmp_path / "env", tmp_path / "extra"
    write(env_dir, BASE.replace('"Demo"', '"From env"'))
    write(extra, BASE.replace('"Demo"', '"From extra"'))
    monkeypatch.setenv("REHAB_EXERCISES_DIR", str(env_dir))
    assert get_exercise("demo").name == "From env"
    assert get_exercise("demo", extra_dir=extra).name == "From extra"


def test_env_folder_missing(tmp_path, monkeypatch):
    missing = tmp_path / "does_not_exist"
    monkeypatch.setenv("REHAB_EXERCISES_DIR", str(missing))
    with pytest.raises(ConfigError) as info:
        load_library()
    assert str(info.value) == f"{missing}: exercises folder does not exist"


def test_broken_file_in_env_folder_is_reported(tmp_path, monkeypatch):
    user = tmp_path / "mine"
    path = write(user, BASE.replace("[target]", "[target]\nmid_deg = 90"))
    monkeypatch.setenv("REHAB_EXERCISES_DIR", str(user))
    with pytest.raises(ConfigError) as info:
        get_exercise("squat")
    assert str(info.value).startswith(f"{path}: key 'target.mid_deg': unknown key")


def test_unknown_exercise_lists_known_ids():
    with pytest.raises(ConfigError) as info:
        get_exercise("sqaut")
    msg = str(info.value)
    assert msg.startswith("unknown exercise 'sqaut'; known: ")
    known = msg.split("known: ", 1)[1].split(", ")
    assert known == sorted(known)
    assert REQUIRED_IDS <= set(known)


def test_get_exercise_by_path(tmp_path):
    path = write(tmp_path, BASE)
    ex = get_exercise(str(path))
    assert ex.id == "demo" and ex.path == str(path)


def test_with_target_override():
    squat = get_exercise("squat")
    shallow = squat.with_target(45, None)
    assert (shallow.target.min_deg, shallow.target.max_deg) == (45.0, squat.target.max_deg)
    assert squat.target.min_deg == 80  # frozen original unchanged
    with pytest.raises(ConfigError, match="target min 140 deg is greater than target max 130"):
        squat.with_target(140, None)


def test_alternation_key(tmp_path):
    """``counting.alternation``: detect by default; expected only for a one-sided exercise
    counted on a per-side angle; any other word refused with the choices."""
    assert load_exercise_file(write(tmp_path, BASE)).counting.alternation == "detect"
    one_sided = BASE.replace("bilateral = true", "bilateral = false")
    expected = one_sided.replace('angle = "knee_flexion"',
                                 'angle = "knee_flexion"\nalternation = "expected"')
    assert load_exercise_file(write(tmp_path, expected)).counting.alternation == "expected"
    path, msg = load_error(tmp_path, expected.replace("bilateral = false", "bilateral = true"))
    assert msg.startswith(f"{path}: key 'counting.alternation': 'expected' needs a one-sided")
    path, msg = load_error(tmp_path, one_sided.replace(
        'angle = "knee_flexion"', 'angle = "knee_flexion"\nalternation = "sometimes"'))
    assert msg == (f"{path}: key 'counting.alternation': 'sometimes' is not one of "
                   f"'detect', 'expected', 'none'")


@pytest.mark.parametrize("reserved", ["side", "sparse"])
def test_a_compensation_may_not_take_a_reps_side_or_sparse_flag(tmp_path, reserved):
    path, msg = load_error(tmp_path, BASE + COMP.replace('id = "lean"', f'id = "{reserved}"'))
    assert f"{reserved!r} is reserved" in msg
