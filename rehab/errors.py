"""User-facing errors: one clear line, no traceback, non-zero exit."""

from __future__ import annotations


class RehabError(Exception):
    """An error caused by the user's input or environment, reported as one line.

    The CLI prints ``rehab: error: <message>`` on stderr and exits with ``exit_code``.
    """

    exit_code: int = 2

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class InputError(RehabError):
    """Missing, unreadable or unusable input (video, landmarks, manifest)."""


class ConfigError(RehabError):
    """Invalid exercise definition, prescription or calibration file."""


class NoPoseError(RehabError):
    """No person was detected in the input."""

    exit_code = 3


class OutputError(RehabError):
    """The output location cannot be written."""

    exit_code = 4


class ProblemsError(InputError):
    """Several problems found at once (a manifest's rows): the CLI prints one
    ``rehab: error:`` line per problem."""

    def __init__(self, problems: "list[str] | tuple[str, ...]",
                 exit_code: int | None = None) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(self.problems), exit_code)
