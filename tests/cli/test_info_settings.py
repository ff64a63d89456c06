"""CLI: ``rehab info`` shows the analysis settings and which exercises change them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from rehab.settings import DEFAULT_SETTINGS


def test_info_lists_every_setting_and_exercise_overrides(tmp_path: Path) -> None:
    extra = tmp_path / "ex"
    extra.mkdir()
    (extra / "slow_squat.toml").write_text(
        'id = "slow_squat"\nname = "Slow squat"\nview = "side"\nbilateral = true\n'
        'sources = ["test"]\n[counting]\nangle = "knee_flexion"\n'
        '[target]\nmin_deg = 80\nmax_deg = 120\n[settings]\nhigh_fraction = 0.6\n')
    env = {**os.environ, "REHAB_EXERCISES_DIR": str(extra), "REHAB_CACHE_DIR": str(tmp_path)}
    res = subprocess.run([sys.executable, "-m", "rehab", "info"], capture_output=True,
                         text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert f"defaults {DEFAULT_SETTINGS.short_hash()}" in out
    for name, value in DEFAULT_SETTINGS.to_dict().items():
        assert any(line.split()[:2] == [name, f"{value:g}"] for line in out.splitlines()), name
    changed = DEFAULT_SETTINGS.replace(high_fraction=0.6)
    assert f"settings slow_squat: {changed.short_hash()} (high_fraction 0.6)" in out
