"""Files and folders that appear whole or not at all, and leftovers cleaned up.

- `atomic_open` / `write_text_atomic` / `write_json_atomic` / `write_bytes_atomic`: one file
  written under a temporary name in the same folder, fsynced, then renamed. A crash, a kill
  or a full disk never leaves a half-written file under the final name, and whatever was
  there before stays intact.
- `StagedFolder`: a set of files (all results of one analysis, an export) written into a
  private hidden folder beside the final one, then swapped in with renames: the final folder
  holds the old set or the new one, never a mix. It only replaces a folder whose every entry
  is one it may replace (`replaceable`), so a user's own files are never deleted.
- Temporary names carry the writer's process id (`temp_sibling`); a leftover whose process
  is gone (killed) is removed by the next writer of the same file or folder
  (`remove_stale_temps`, `recover_staged`); a live process's temporaries are never touched.

Failures are one-line `OutputError`s.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import re
import shutil
import stat
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from rehab.errors import OutputError

log = logging.getLogger(__name__)

PRIVATE_UMASK = 0o077
PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700

_TEMP_RE = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)(?:-[0-9a-f]+)?\.part(?:\.[A-Za-z0-9]+)?$")
_STAGED_RE = re.compile(r"^\.(?P<name>.+)\.rehab-(?P<kind>new|old)-(?P<pid>\d+)-[0-9a-f]+$")


@contextlib.contextmanager
def private_umask() -> Iterator[None]:
    """Create files readable by their owner only while inside the block.

    The umask is per process: use it around work in the main thread; files written by
    threads get explicit modes instead (`StagedFolder(private=True)`, `make_private`).
    """
    old = os.umask(PRIVATE_UMASK)
    try:
        yield
    finally:
        os.umask(old)


def pid_alive(pid: int) -> bool:
    """True while process ``pid`` exists on this machine (ours or another user's)."""
    if pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:  # pragma: no cover - platforms without signals: assume alive
        return True
    return True


def temp_sibling(path: str | os.PathLike[str], keep_suffix: bool = False) -> Path:
    """A hidden temporary name beside ``path`` carrying this process id:
    ``.<name>.<pid>-<random>.part`` (``+ <suffix>`` with ``keep_suffix``, for writers that
    choose the format from it, such as OpenCV's)."""
    path = Path(path)
    tail = path.suffix if keep_suffix else ""
    return path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.part{tail}")


def remove_stale_temps(path: str | os.PathLike[str]) -> int:
    """Remove the temporaries of ``path`` (see `temp_sibling`) left by processes that no
    longer run; returns how many were removed."""
    path = Path(path)
    removed = 0
    try:
        entries = list(path.parent.iterdir()) if path.parent.is_dir() else []
    except OSError:
        return 0
    for entry in entries:
        m = _TEMP_RE.match(entry.name)
        if m is None or m["name"] != path.name or pid_alive(int(m["pid"])):
            continue
        with contextlib.suppress(OSError):
            entry.unlink()
            removed += 1
            log.info("removed %s, left by an interrupted run", entry)
    return removed


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file (read in blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def recording_sha256(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a recording: a file's bytes; for a folder (of images), of each
    file's relative name and bytes, in name order."""
    p = Path(path)
    if not p.is_dir():
        return file_sha256(p)
    digest = hashlib.sha256()
    for f in sorted(q for q in p.rglob("*") if q.is_file()):
        digest.update(f.relative_to(p).as_posix().encode() + b"\0")
        digest.update(bytes.fromhex(file_sha256(f)))
    return digest.hexdigest()


def make_private(path: str | os.PathLike[str]) -> None:
    """Owner-only permissions on ``path`` and, for a folder, on everything below it
    (symbolic links are neither followed nor changed)."""
    root = Path(path)
    items = [root] if not root.is_dir() or root.is_symlink() else \
        [root, *root.rglob("*")]
    for p in items:
        st = p.lstat()
        if stat.S_ISLNK(st.st_mode):
            continue
        os.chmod(p, PRIVATE_DIR_MODE if stat.S_ISDIR(st.st_mode) else PRIVATE_FILE_MODE)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w",
                private: bool = False) -> Iterator[IO]:  # type: ignore[type-arg]
    """Open a temporary file beside ``path``; on success it replaces ``path``.

    ``private`` creates it readable by its owner only. Temporaries of ``path`` left by a
    killed process are removed first.
    """
    path = Path(path)
    tmp = temp_sibling(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(path)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        fd = os.open(tmp, flags, PRIVATE_FILE_MODE if private else 0o666)
        kwargs = {"encoding": "utf-8", "newline": ""} if "b" not in mode else {}
        with open(fd, mode, **kwargs) as fh:  # type: ignore[call-overload]
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"{path}: cannot write ({describe_os_error(exc)})") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def describe_os_error(exc: OSError) -> str:
    """The reason of an I/O error in words (``ENOSPC`` spelled out as "disk full")."""
    if exc.errno == errno.ENOSPC:
        return "disk full"
    return exc.strerror or str(exc)


def reason(exc: BaseException) -> str:
    """Why ``exc`` happened, in words: `describe_os_error` for an I/O error (without the
    file name), else its message."""
    return describe_os_error(exc) if isinstance(exc, OSError) else str(exc)


def check_writable_file(path: str | os.PathLike[str]) -> Path:
    """Refuse early (`OutputError`) a file that could not be written: a folder, a file in a
    folder that does not exist or is not writable, a read-only file. Creates nothing."""
    out = Path(path)
    if out.is_dir():
        raise OutputError(f"{out}: is a folder")
    if not out.parent.is_dir():
        raise OutputError(f"{out}: folder {out.parent} does not exist")
    if not os.access(out.parent, os.W_OK | os.X_OK) or (out.exists()
                                                        and not os.access(out, os.W_OK)):
        raise OutputError(f"{out}: not writable")
    return out


def write_text_atomic(path: str | os.PathLike[str], text: str, private: bool = False) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_open(path, "w", private=private) as fh:
        fh.write(text)
    return Path(path)


def write_json_atomic(path: str | os.PathLike[str], doc: Any, private: bool = False) -> Path:
    """Write ``doc`` as indented JSON (no NaN: non-finite numbers are an error) atomically."""
    return write_text_atomic(path, json.dumps(doc, indent=2, allow_nan=False) + "\n",
                             private=private)


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes, private: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically."""
    with atomic_open(path, "wb", private=private) as fh:
        fh.write(data)
    return Path(path)


# --- whole folders ---------------------------------------------------------------------------

def recover_staged(final: str | os.PathLike[str]) -> None:
    """Finish or undo what a killed `StagedFolder.publish` of ``final`` left behind.

    A new set still being staged by a dead process is removed; an old set moved aside by a
    dead process goes back in place when ``final`` is missing (the kill came between the two
    renames), and is removed otherwise.
    """
    final = Path(final)
    try:
        entries = sorted(final.parent.iterdir()) if final.parent.is_dir() else []
    except OSError:
        return
    for entry in entries:
        m = _STAGED_RE.match(entry.name)
        if m is None or m["name"] != final.name or pid_alive(int(m["pid"])):
            continue
        try:
            if m["kind"] == "old" and not os.path.lexists(final):
                os.rename(entry, final)
                log.info("%s: restored the previous results (a run was killed while "
                         "replacing them)", final)
            else:
                shutil.rmtree(entry)
                log.info("removed %s, left by an interrupted run", entry)
        except OSError as exc:
            log.warning("%s: cannot clean up (%s)", entry, describe_os_error(exc))


def check_replaceable(final: str | os.PathLike[str], replaceable: Iterable[str]) -> None:
    """Refuse (`OutputError`) when ``final`` exists and is not a folder, or holds an entry
    not named in ``replaceable`` (hidden temporaries aside)."""
    final = Path(final)
    if not os.path.lexists(final):
        return
    if not final.is_dir() or final.is_symlink():
        raise OutputError(f"{final}: exists and is not a folder")
    allowed = set(replaceable)
    try:
        foreign = sorted(e.name for e in final.iterdir()
                         if e.name not in allowed and not _TEMP_RE.match(e.name))
    except OSError as exc:
        raise OutputError(f"{final}: cannot read the folder ({describe_os_error(exc)})") \
            from None
    if foreign:
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise OutputError(f"{final}: holds files rehab did not write ({shown}); they would be "
                          f"lost: choose a new or empty folder")


class StagedFolder:
    """A folder written in private, then published whole in place of ``final``.

    ``folder.path`` is a new hidden folder beside ``final`` (same file system); write into
    it, then `publish` (the old ``final``, if any, is replaced with two renames; a kill in
    between is undone by the next run, see `recover_staged`) or `discard`. Used as a context
    manager it publishes on success and discards on error.

    ``replaceable``: the names a folder at ``final`` may hold to be replaced (checked now,
    so the caller fails before doing any work); ``private``: the folder and its files are
    readable by their owner only, whatever the umask.
    """

    def __init__(self, final: str | os.PathLike[str], replaceable: Iterable[str],
                 private: bool = False) -> None:
        self.final = Path(os.path.abspath(Path(final).expanduser()))
        self.private = private
        self.replaceable = frozenset(replaceable)
        self.published = False
        recover_staged(self.final)
        check_replaceable(self.final, self.replaceable)
        try:
            self.final.parent.mkdir(parents=True, exist_ok=True)
            self.path = self._sibling("new")
            os.mkdir(self.path, PRIVATE_DIR_MODE if private else 0o777)
        except OSError as exc:
            blocker = next((p for p in self.final.parents if p.exists()), None)
            why = f"{blocker} is not a folder" if blocker is not None and \
                not blocker.is_dir() else describe_os_error(exc)
            raise OutputError(f"{self.final}: cannot create the folder ({why})") from None

    def _sibling(self, kind: str) -> Path:
        return self.final.with_name(
            f".{self.final.name}.rehab-{kind}-{os.getpid()}-{uuid.uuid4().hex[:8]}")

    def publish(self) -> Path:
        """Put the staged folder in place of ``final``; returns ``final``."""
        if self.published:
            return self.final
        try:
            if self.private:
                make_private(self.path)
            for _ in range(10):  # another run may publish the same folder meanwhile
                old = self._sibling("old")
                with contextlib.suppress(FileNotFoundError):
                    check_replaceable(self.final, self.replaceable)
                    os.rename(self.final, old)
                try:
                    os.rename(self.path, self.final)
                except OSError as exc:
                    if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                        _undo(old, self.final)
                        raise
                    continue
                shutil.rmtree(old, ignore_errors=True)
                break
            else:
                raise OutputError(f"{self.final}: other runs keep replacing this folder")
        except OSError as exc:
            self.discard()
            raise OutputError(f"{self.final}: cannot write the results "
                              f"({describe_os_error(exc)})") from None
        except BaseException:
            self.discard()
            raise
        self.published = True
        return self.final

    def discard(self) -> None:
        """Remove the staged folder (``final`` is left as it was)."""
        if not self.published:
            shutil.rmtree(self.path, ignore_errors=True)

    def __enter__(self) -> "StagedFolder":
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            self.publish()
        else:
            self.discard()


def _undo(old: Path, final: Path) -> None:
    """Put a folder moved aside back in place (the new one could not be)."""
    if os.path.lexists(old) and not os.path.lexists(final):
        with contextlib.suppress(OSError):
            os.rename(old, final)
