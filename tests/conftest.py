"""Shared fixtures: the real-data folder beside the checkout, and isolated caches."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """``rehab.cli.main`` puts a handler on the stderr of its test; take it off afterwards
    and put the levels back, so a later test neither writes to that closed stream nor sees
    log lines that depend on which tests ran before it."""
    from rehab.cli import LOG_HANDLER_NAME

    root, rehab_log = logging.getLogger(), logging.getLogger("rehab")
    root_level, rehab_level = root.level, rehab_log.level
    yield
    for handler in [h for h in root.handlers if h.get_name() == LOG_HANDLER_NAME]:
        root.removeHandler(handler)
    root.setLevel(root_level)
    rehab_log.setLevel(rehab_level)


def shared_data_dir() -> Path:
    """``../shared/data`` beside the checkout (``REHAB_SHARED_DATA`` overrides)."""
    env = os.environ.get("REHAB_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real recordings and landmark sets, or a skip with the reason."""
    d = shared_data_dir()
    if not (d / "landmarks" / "manifest.csv").is_file():
        pytest.skip(f"real data not found at {d} (set REHAB_SHARED_DATA or place ../shared/data)")
    return d


@pytest.fixture(scope="session")
def shared_videos(shared_data: Path) -> Path:
    d = shared_data / "videos"
    if not d.is_dir():
        pytest.skip(f"real videos not found at {d}")
    return d
