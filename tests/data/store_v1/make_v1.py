"""Write tests/data/store_v1: a patient database as rehab 0.1.0 (schema v1) writes it."""
import datetime as dt, json, os, sys, shutil
from pathlib import Path
from rehab.pipeline import analyze_pose
from rehab.exercises import get_exercise
from rehab.store import open_store
from rehab.synthetic import rep_trajectory, synthetic_sequence

out = Path(sys.argv[1]); shutil.rmtree(out, ignore_errors=True); out.mkdir(parents=True)
t, knee = rep_trajectory(3, 15.0, rest=0.0, peak=100.0)
seq = synthetic_sequence(t, {"knee_flexion": knee, "hip_flexion": 0.8 * knee})
seq = seq.replace(source="squat_synthetic.npz")
a1 = analyze_pose(seq, get_exercise("squat"), side="right", height_cm=170.0)
print("rep_count", a1.rep_count, "scale", a1.extra.get("scale"), a1.rep_extra)
t2, sh = rep_trajectory(2, 15.0, rest=10.0, peak=100.0)
seq2 = synthetic_sequence(t2, {"shoulder_flexion": sh}, view="front").replace(source="abd.npz")
a2 = analyze_pose(seq2, get_exercise("shoulder_abduction"), side="left")
print("rep_count2", a2.rep_count)
with open_store(out / "rehab.sqlite") as s:
    s.add_patient("p01", "Ada L.", affected_side="right", notes="ACL, right")
    s.prescribe("p01", "squat", 80, 110, reps=10, sets=3, side="right")
    s.record_analysis("p01", a1, started=dt.datetime(2024, 3, 4, 9, 30))
    s.record_analysis("p01", a2, started=dt.datetime(2024, 3, 6, 9, 30))
    w = s.begin_session("p01", "squat", "right", dt.datetime(2024, 3, 8, 9, 30), "camera 0", "live")
    for r in a1.reps[:2]:
        w.add_rep(r)
    w.finish(dt.datetime(2024, 3, 8, 9, 35), notes=["live session: ended by the patient"])
    s.begin_session("p01", "squat", "right", dt.datetime(2024, 3, 9, 9, 30), "camera 0", "live").add_rep(a1.reps[0])
    s.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
