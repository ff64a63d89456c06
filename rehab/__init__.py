"""rehab: camera-based physical rehabilitation analysis.

Pipeline: capture -> pose -> kinematics -> repetitions & scoring -> store -> reports.
Importing the package has no side effects (no logging configuration, no backend choice).
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
