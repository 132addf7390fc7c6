"""Atomic file and directory writes: a crash never leaves a half-written result.

Files are written to a temporary sibling, flushed to disk, then renamed over
the target (``os.replace`` is atomic on POSIX). Directories are built in a
temporary sibling and renamed into place once complete.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from .errors import DnnlikError, OutputExistsError

__all__ = ["atomic_write_bytes", "atomic_write_text", "atomic_directory", "new_file_mode", "refuse_existing"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def new_file_mode(path: str | Path, *, directory: bool = False) -> int:
    """The mode ``path`` should get: that of the file it replaces, else the default less the umask.

    (``mkstemp``/``mkdtemp`` create their results private, 0o600/0o700.)
    """
    with contextlib.suppress(OSError):
        return Path(path).stat().st_mode & 0o777
    return (0o777 if directory else 0o666) & ~_umask()


def refuse_existing(path: str | Path, overwrite: bool) -> None:
    """Raise :class:`~dnnlik.errors.OutputExistsError` when ``path`` exists and ``overwrite`` is false."""
    if not overwrite and os.path.lexists(path):
        raise OutputExistsError(str(path))


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file in the same folder + rename)."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise DnnlikError(f"cannot write here: {exc.strerror}", where=str(path)) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, new_file_mode(path))
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise DnnlikError(f"cannot write: {exc.strerror}", where=str(path)) from None


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


@contextlib.contextmanager
def atomic_directory(target: str | Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder; on success it replaces ``target``, on error it is removed.

    An existing ``target`` is refused unless ``overwrite`` is true; it is then
    swapped out only once the new folder is complete.
    """
    target = Path(target)
    refuse_existing(target, overwrite)
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=parent))
    except OSError as exc:
        raise DnnlikError(f"cannot create the output folder: {exc.strerror}", where=str(target)) from None
    try:
        yield tmp
        os.chmod(tmp, new_file_mode(target, directory=True))
        old = None
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=parent))
            os.replace(target, old / target.name)
        os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
