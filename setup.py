"""Build step that puts the checkout's data folders into the package (pyproject.toml holds
the rest of the configuration).

``exercises/`` (the exercise library) and ``reports/`` (report template and styles) stay at
the top of the repository, where a physiotherapist edits them. A wheel carries copies as
``rehab/_data/exercises/`` and ``rehab/_data/reports/``, the folders that
``rehab.exercises.builtin_exercises_dir`` and ``rehab.reports.assets.reports_dir`` look in
first; an editable install finds neither and falls back to the checkout's folders.
MANIFEST.in puts the same files into the sdist, so a wheel built from it has them too.
"""

from __future__ import annotations

import fnmatch
import glob
import os

from setuptools import setup
from setuptools.command.build_py import build_py

# checkout folder -> the files of it that the installed package reads (rehab/_data/<folder>/)
DATA = {
    "exercises": ("*.toml", "README.md"),
    "reports": ("template.html", "report.css", "style.mplstyle"),
}


class build_py_with_data(build_py):
    """``build_py`` that also copies :data:`DATA` into ``<build_lib>/rehab/_data/``."""

    def _get_data_files(self) -> list[tuple[str, str, str, list[str]]]:
        files = list(super()._get_data_files())
        for folder, patterns in DATA.items():
            found = sorted({os.path.relpath(path, folder)
                            for pattern in patterns
                            for path in glob.glob(os.path.join(folder, pattern))
                            if os.path.isfile(path)})
            missing = [p for p in patterns
                       if not any(fnmatch.fnmatch(f, p) for f in found)]
            if missing:  # never build a wheel that cannot find its own data
                raise SystemExit(f"setup.py: {folder}/ has no {', '.join(missing)} "
                                 f"(is it missing from the sdist? see MANIFEST.in)")
            build_dir = os.path.join(self.build_lib, "rehab", "_data", folder)
            files.append((f"rehab._data.{folder}", folder, build_dir, found))
        return files


setup(cmdclass={"build_py": build_py_with_data})
