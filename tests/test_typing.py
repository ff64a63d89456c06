"""The package type-checks: ``mypy rehab`` with the settings in pyproject.toml."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_mypy_finds_no_errors(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "mypy", "rehab", "--cache-dir",
                           str(tmp_path / "mypy-cache")], cwd=REPO, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Success: no issues found" in done.stdout
