"""Atomic file and directory writes: a crash never leaves a half-written result.

One implementation of each: :func:`atomic_replace` writes a file (any writer:
bytes, text, h5py) to a temporary sibling, flushes it to disk, gives it the
mode of the file it replaces and renames it over the target (``os.replace`` is
atomic on POSIX), then syncs the folder; :func:`atomic_write_bytes` and
:func:`atomic_write_text` are built on it. :func:`atomic_directory` builds a
folder in a temporary sibling and renames it into place once complete.
:func:`refuse_existing` is the one "already exists" check, and
:func:`write_error` the one place an ``OSError`` met while writing becomes a
message in words (disk full, quota, not writable).

(:mod:`dnnlik.zenodo.fetch` has its own writer on purpose: it writes relative
to a folder held open, never through a link; see ``_Folder`` there.)
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import DnnlikError, OutputExistsError

__all__ = [
    "atomic_replace",
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_directory",
    "new_file_mode",
    "refuse_existing",
    "write_error",
]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def new_file_mode(path: str | Path, *, directory: bool = False) -> int:
    """The mode ``path`` should get: that of the file it replaces, else the default less the umask.

    (``mkstemp``/``mkdtemp`` create their results private, 0o600/0o700.)

    Args:
        path: the file or folder about to be written.
        directory: whether it is a folder (default mode 0o777 rather than 0o666).

    Returns:
        The permission bits to give the new file or folder.
    """
    with contextlib.suppress(OSError):
        return Path(path).stat().st_mode & 0o777
    return (0o777 if directory else 0o666) & ~_umask()


def write_error(exc: OSError, where: str | Path, *, action: str = "cannot write") -> DnnlikError:
    """A one-line error for an OSError met while writing ``where`` (disk full, quota, not writable...).

    Args:
        exc: the error the operating system gave.
        where: the path being written.
        action: what could not be done, the start of the message.

    Returns:
        The error to raise, saying why in words, e.g.
        ``s.h5: cannot write: no space left on the device (disk full)``.
    """
    if exc.errno == errno.ENOSPC:
        why = "no space left on the device (disk full)"
    elif exc.errno == errno.EDQUOT:
        why = "disk quota exceeded"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        why = f"not writable ({exc.strerror})"
    else:
        why = exc.strerror or str(exc)
    return DnnlikError(f"{action}: {why}", where=str(where))


def refuse_existing(path: str | Path, overwrite: bool, *, argument: str = "overwrite", hint: str | None = None) -> None:
    """The one "already exists" check: refuse to replace ``path`` unless ``overwrite`` is true.

    A dangling link counts as existing (it would be replaced too).

    Args:
        path: the output about to be written.
        overwrite: whether replacing it was asked for.
        argument: the caller's argument that allows replacing it (named in the message).
        hint: the alternatives in words, when there are others than ``argument``
            (see :class:`~dnnlik.errors.OutputExistsError`).

    Raises:
        OutputExistsError: ``path`` exists and ``overwrite`` is false.
    """
    if not overwrite and os.path.lexists(path):
        raise OutputExistsError(str(path), argument=argument, hint=hint)


def _fsync_directory(path: Path) -> None:
    """Flush a folder's entries to disk (a rename inside it is then durable); best effort."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_replace(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; once the block completes, it replaces ``path``.

    Whatever the block writes to the temporary path (any writer: bytes, text,
    h5py) is fsync'ed, given the mode ``path`` has (or would get), renamed over
    ``path`` and the folder fsync'ed: a crash leaves either the old file or the
    new one, never half of one. On an error the temporary file is removed.

    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_replace(folder / "out.txt") as tmp:
    ...     _ = tmp.write_text("complete")
    >>> (folder / "out.txt").read_text(), len(list(folder.iterdir()))
    ('complete', 1)
    >>> shutil.rmtree(folder)

    Args:
        path: the file to write (its folder must exist).

    Yields:
        The temporary file to write, in the same folder (it exists, empty).

    Raises:
        DnnlikError: an OSError while creating, syncing or renaming, in words
            (:func:`write_error`).
    """
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise write_error(exc, path) from None
    try:
        try:
            yield Path(tmp)
            with open(tmp, "rb+") as raw:
                os.fsync(raw.fileno())
            os.chmod(tmp, new_file_mode(path))
            os.replace(tmp, path)
            _fsync_directory(path.parent)
        except OSError as exc:
            raise write_error(exc, path) from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (:func:`atomic_replace`).

    Args:
        path: the file to write (its folder must exist).
        data: its whole content.

    Raises:
        DnnlikError: the file cannot be written (disk full, not writable...).
    """
    with atomic_replace(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically (:func:`atomic_replace`).

    Args:
        path: the file to write (its folder must exist).
        text: its whole content.

    Raises:
        DnnlikError: the file cannot be written (disk full, not writable...).
    """
    atomic_write_bytes(path, text.encode("utf-8"))


@contextlib.contextmanager
def atomic_directory(target: str | Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder; on success it replaces ``target``, on error it is removed.

    An existing ``target`` is refused unless ``overwrite`` is true; it is then
    swapped out only once the new folder is complete.

    Args:
        target: the folder to write (its parents are created).
        overwrite: replace an existing ``target``.

    Yields:
        The temporary folder to fill, next to ``target``.

    Raises:
        OutputExistsError: ``target`` exists and ``overwrite`` is false.
        DnnlikError: the folder cannot be created or moved into place.
    """
    target = Path(target)
    refuse_existing(target, overwrite)
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=parent))
    except OSError as exc:
        raise write_error(exc, target, action="cannot create the output folder") from None
    try:
        yield tmp
        old = None
        try:
            os.chmod(tmp, new_file_mode(target, directory=True))
            if target.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=parent))
                os.replace(target, old / target.name)
            os.replace(tmp, target)
        except OSError as exc:
            if old is not None:
                with contextlib.suppress(OSError):  # put the old folder back; kept aside if that fails too
                    if not os.path.lexists(target):
                        os.replace(old / target.name, target)
                    shutil.rmtree(old, ignore_errors=True)
            raise write_error(exc, target, action="cannot move the output folder into place") from None
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        _fsync_directory(parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
