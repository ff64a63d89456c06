"""Report templates and styles in the repository's ``reports/`` folder."""

from __future__ import annotations

import contextlib
import string
from pathlib import Path
from typing import Iterator

from rehab.errors import ConfigError

TEMPLATE = "template.html"
CSS = "report.css"
MPLSTYLE = "style.mplstyle"


def reports_dir() -> Path:
    """The folder of report templates (installed copy or the source checkout)."""
    import rehab

    pkg = Path(rehab.__file__).resolve().parent
    for candidate in (pkg / "_data" / "reports", pkg.parent / "reports"):
        if (candidate / TEMPLATE).is_file():
            return candidate
    raise ConfigError("the report templates (reports/template.html) were not found "
                      "(broken installation)")


def _read(name: str) -> str:
    path = reports_dir() / name
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from None


def html_template() -> string.Template:
    """``reports/template.html`` ($title, $css, $body, $generated, $version)."""
    return string.Template(_read(TEMPLATE))


def css() -> str:
    """``reports/report.css``."""
    return _read(CSS)


@contextlib.contextmanager
def figure_style() -> Iterator[None]:
    """Apply ``reports/style.mplstyle`` while figures are built and saved."""
    import matplotlib.style

    with matplotlib.style.context(str(reports_dir() / MPLSTYLE)):
        yield
