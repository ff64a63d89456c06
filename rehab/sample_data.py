"""Sample recordings for the demo, fetched on first use and pinned by hash.

``REHAB_DATA_DIR`` points to an offline mirror (a folder holding the files under the same
names); otherwise files are downloaded once with `pooch` into the user cache directory.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from rehab.errors import InputError
from rehab.fileio import file_sha256

log = logging.getLogger(__name__)

SAMPLES: dict[str, tuple[str, str]] = {
    "shoulder_abduction.mp4": (
        "https://raw.githubusercontent.com/sagorghhj253/sagor_rehabilitation_project_BME410/"
        "82e9ee9ba1e802064f29612b7e1bf0eff1838af6/shoulder_abduction.mp4",
        "868a7486b470aceaa71c78f1ac02da47c143d55e5f8bc84aa84a6f1f6007ff8c",
    ),
}
"""name -> (url, sha256). The demo recording: seated bilateral shoulder abduction, 7 reps."""

SAMPLE_EXERCISES: dict[str, str] = {"shoulder_abduction.mp4": "shoulder_abduction"}


def cache_dir() -> Path:
    """Where downloaded samples are kept (``REHAB_CACHE_DIR`` overrides)."""
    env = os.environ.get("REHAB_CACHE_DIR")
    if env:
        return Path(env) / "samples"
    import platformdirs

    return Path(platformdirs.user_cache_dir("rehab")) / "samples"


def fetch_sample(name: str = "shoulder_abduction.mp4") -> Path:
    """Local path of a sample recording, verified against its pinned sha256."""
    if name not in SAMPLES:
        raise InputError(f"unknown sample {name!r}; known: {', '.join(sorted(SAMPLES))}")
    url, digest = SAMPLES[name]
    mirror = os.environ.get("REHAB_DATA_DIR")
    if mirror:
        path = Path(mirror) / name
        if not path.is_file():
            raise InputError(f"{path}: sample not found in REHAB_DATA_DIR={mirror}")
        if file_sha256(path) != digest:
            raise InputError(f"{path}: sha256 does not match the pinned sample (corrupt copy?)")
        return path
    import pooch

    try:
        return Path(pooch.retrieve(url, known_hash=f"sha256:{digest}", fname=name,
                                   path=cache_dir(), progressbar=False))
    except ValueError as exc:  # hash mismatch
        raise InputError(f"{name}: downloaded file failed its hash check ({exc})") from None
    except OSError as exc:
        raise InputError(f"{name}: could not download the sample ({exc}); set REHAB_DATA_DIR "
                         f"to a folder that holds it") from None
