"""Crash-safe HDF5 checkpoints of a sampling run, and atomic HDF5 writes.

HDF5 files are not crash-safe: a process killed while writing one can leave
it unreadable. So nothing is ever appended to an existing file. A run keeps a
checkpoint folder ``<out>.partial/`` next to its output, holding

- ``plan.h5``: the run's configuration and its segments (written once);
- ``seg<SSS>-<CCCCCC>.h5``: one file per checkpoint interval (chunk): the
  samples stored in it and the complete sampler state at its end (walker
  positions and log-densities, the emcee random state, move counters).

Each file is written to a temporary name, flushed and fsync'ed, then renamed
into place (:func:`atomic_h5`, on :func:`dnnlik.fsutil.atomic_replace`), so a
SIGKILL loses at most the chunk being computed, and the run resumes from the
last complete chunk with exactly the state it had.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ..errors import DnnlikError
from ..fsutil import atomic_replace, write_error

__all__ = [
    "atomic_h5",
    "Chunk",
    "CheckpointStore",
    "random_state_to_h5",
    "random_state_from_h5",
    "PARTIAL_SUFFIX",
]

PARTIAL_SUFFIX = ".partial"
_CHUNK_RE = re.compile(r"^seg([0-9]{3})-([0-9]{6})\.h5\Z")


@contextlib.contextmanager
def atomic_h5(path: str | Path) -> Iterator[h5py.File]:
    """Yield a new HDF5 file that replaces ``path`` only once it is complete and on disk.

    (:func:`dnnlik.fsutil.atomic_replace` with h5py as the writer: an HDF5 file of
    up to a gigabyte of samples is written where it lies, never held in memory.)

    Args:
        path: the file to write.

    Yields:
        The new file, open for writing.

    Raises:
        DnnlikError: the file cannot be written (disk full, not writable...).
    """
    with atomic_replace(path) as tmp, h5py.File(tmp, "w") as f:
        yield f


def random_state_to_h5(group: h5py.Group, state: tuple[Any, ...]) -> None:
    """Store a ``numpy.random.RandomState.get_state()`` tuple (no pickle).

    Args:
        group: an HDF5 group open for writing (attributes ``rs_*`` and dataset ``rs_keys`` are created).
        state: ``(kind, keys, pos, has_gauss, cached_gaussian)``.
    """
    key, keys, pos, has_gauss, cached = state
    group.attrs["rs_kind"] = str(key)
    group.create_dataset("rs_keys", data=np.asarray(keys, dtype=np.uint32))
    group.attrs["rs_pos"] = int(pos)
    group.attrs["rs_has_gauss"] = int(has_gauss)
    group.attrs["rs_cached_gaussian"] = float(cached)


def random_state_from_h5(group: h5py.Group) -> tuple[Any, ...]:
    """The ``numpy.random.RandomState`` state tuple stored by :func:`random_state_to_h5`.

    Args:
        group: the group it was stored in.

    Returns:
        The tuple, ready for ``RandomState.set_state``.

    Raises:
        KeyError: the group holds no random state.
    """
    return (
        str(group.attrs["rs_kind"]),
        np.asarray(group["rs_keys"][()], dtype=np.uint32),
        int(group.attrs["rs_pos"]),
        int(group.attrs["rs_has_gauss"]),
        float(group.attrs["rs_cached_gaussian"]),
    )


@dataclass
class Chunk:
    """One checkpoint interval of one segment: stored samples and the state at its end.

    ``W`` walkers, ``d`` sampler coordinates, ``k`` stored steps.

    Attributes:
        segment: the segment's index.
        index: the chunk's index within the segment (0, 1, ...).
        step_start: the step the chunk starts after.
        step_end: the step it ends at.
        steps: (k,) step numbers of the stored samples.
        chain: (k, W, d) stored positions, in sampler coordinates.
        log_prob: (k, W) their log-densities.
        coords: (W, d) the walkers at ``step_end``.
        state_log_prob: (W,) their log-densities.
        random_state: emcee's ``RandomState`` state at ``step_end``.
        counters: JSON-able bookkeeping (distinct and kept samples, move counts).
        last_kept: (W, d) each walker's last kept sample, if any.
        moved: (W,) steps in which each walker moved, cumulative.
        wall_time_s: seconds spent computing the chunk.
    """

    segment: int
    index: int
    step_start: int
    step_end: int
    steps: np.ndarray  # (k,) step numbers of the stored samples
    chain: np.ndarray  # (k, W, d) sampler coordinates
    log_prob: np.ndarray  # (k, W)
    coords: np.ndarray  # (W, d) state at step_end
    state_log_prob: np.ndarray  # (W,)
    random_state: tuple[Any, ...]
    counters: dict[str, Any] = field(default_factory=dict)  # JSON-able bookkeeping
    last_kept: np.ndarray | None = None  # (W, d) last kept sample of each walker
    moved: np.ndarray | None = None  # (W,) steps in which each walker moved, cumulative
    wall_time_s: float = 0.0


class CheckpointStore:
    """The checkpoint folder of one run (see the module docstring).

    Args:
        out: the run's output file; the folder is ``<out>.partial``.
    """

    def __init__(self, out: str | Path) -> None:
        self.out = Path(out)
        self.path = self.out.with_name(self.out.name + PARTIAL_SUFFIX)
        self._lock_fd: int | None = None

    # ------------------------------------------------------------------ one run at a time
    def lock(self) -> None:
        """Take the folder's lock (``flock`` on ``lock``): two runs never write the same checkpoints.

        Raises:
            DnnlikError: another run holds it, or the lock file cannot be made.
        """
        if self._lock_fd is not None:
            return
        import fcntl

        try:
            fd = os.open(self.path / "lock", os.O_CREAT | os.O_RDWR, 0o644)
        except OSError as exc:
            raise write_error(exc, str(self.path)) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise DnnlikError(
                "another run is using these checkpoints right now; wait for it to end or stop it", where=str(self.path)
            ) from None
        self._lock_fd = fd

    def unlock(self) -> None:
        """Release the lock (if this process holds it)."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    @property
    def plan_path(self) -> Path:
        """``plan.h5``: the run's configuration and segments."""
        return self.path / "plan.h5"

    def exists(self) -> bool:
        """Whether there are checkpoints to resume (a complete plan)."""
        return self.plan_path.exists()

    def create(self) -> None:
        """Start afresh: remove this run's old checkpoints, make the folder (and lock it).

        Raises:
            DnnlikError: the output's folder does not exist, the folder cannot be
                made, or another run holds the old one.
        """
        self.remove()
        try:
            self.path.mkdir(parents=False)
        except FileNotFoundError:
            raise DnnlikError("the output folder does not exist", where=str(self.out.parent)) from None
        except OSError as exc:
            raise write_error(exc, str(self.path)) from None
        self.lock()

    def remove(self) -> None:
        """Delete the folder (never one another run is using), and release the lock.

        Raises:
            DnnlikError: the path is not a folder, or another run holds its lock.
        """
        if self.path.exists():
            if not self.path.is_dir():
                raise DnnlikError("exists and is not a checkpoint folder; remove it", where=str(self.path))
            self.lock()
            shutil.rmtree(self.path)
        self.unlock()

    # ------------------------------------------------------------------ plan
    def write_plan(self, config: dict[str, Any], writer: Callable[[h5py.File], None]) -> None:
        """Write ``plan.h5`` atomically: ``config`` (what a resumed run must repeat), then ``writer(file)``.

        Args:
            config: JSON-serialisable options, stored as the ``config`` attribute.
            writer: writes the rest (the segments) into the open file.

        Raises:
            DnnlikError: the file cannot be written.
        """
        with atomic_h5(self.plan_path) as f:
            f.attrs["config"] = json.dumps(config, sort_keys=True)
            writer(f)

    def read_config(self) -> dict[str, Any]:
        """The configuration stored in ``plan.h5``.

        Raises:
            DnnlikError: ``plan.h5`` is missing or unreadable (start again with overwrite=True).
        """
        try:
            with h5py.File(self.plan_path, "r") as f:
                return json.loads(f.attrs["config"])
        except (OSError, KeyError, ValueError) as exc:
            raise DnnlikError(
                f"unreadable checkpoint plan ({exc}); start again with overwrite=True", where=str(self.plan_path)
            ) from None

    def open_plan(self) -> h5py.File:
        """``plan.h5``, open for reading (the caller closes it).

        Raises:
            OSError: it cannot be opened.
        """
        return h5py.File(self.plan_path, "r")

    # ------------------------------------------------------------------ chunks
    def chunk_path(self, segment: int, index: int) -> Path:
        """The file of chunk ``index`` of ``segment`` (``seg<SSS>-<CCCCCC>.h5``; it may not exist)."""
        return self.path / f"seg{segment:03d}-{index:06d}.h5"

    def chunk_names(self) -> list[tuple[int, int, Path]]:
        """Complete chunk files, in run order; checks that none is missing.

        Returns:
            ``(segment, index, path)`` per chunk, sorted.

        Raises:
            DnnlikError: a segment's chunks do not run 0, 1, 2... without a gap.
        """
        found = []
        for p in self.path.iterdir():
            m = _CHUNK_RE.match(p.name)
            if m:
                found.append((int(m.group(1)), int(m.group(2)), p))
        found.sort()
        per_segment: dict[int, int] = {}
        for seg, idx, _ in found:
            expected = per_segment.get(seg, 0)
            if idx != expected:
                raise DnnlikError(
                    f"checkpoint chunk {expected} of segment {seg} is missing; start again with overwrite=True",
                    where=str(self.path),
                )
            per_segment[seg] = idx + 1
        return found

    def write_chunk(self, chunk: Chunk) -> None:
        """Write a chunk's file atomically (a kill leaves the previous chunks, never half of this one).

        Args:
            chunk: the chunk; its file is :meth:`chunk_path` of its segment and index.

        Raises:
            DnnlikError: the file cannot be written.
        """
        with atomic_h5(self.chunk_path(chunk.segment, chunk.index)) as f:
            f.attrs["segment"] = chunk.segment
            f.attrs["index"] = chunk.index
            f.attrs["step_start"] = chunk.step_start
            f.attrs["step_end"] = chunk.step_end
            f.attrs["counters"] = json.dumps(chunk.counters, sort_keys=True)
            f.attrs["wall_time_s"] = float(chunk.wall_time_s)
            f.create_dataset("steps", data=np.asarray(chunk.steps, dtype=np.int64))
            f.create_dataset("chain", data=np.asarray(chunk.chain, dtype=np.float64))
            f.create_dataset("log_prob", data=np.asarray(chunk.log_prob, dtype=np.float64))
            g = f.create_group("state")
            g.create_dataset("coords", data=chunk.coords)
            g.create_dataset("log_prob", data=chunk.state_log_prob)
            if chunk.last_kept is not None:
                g.create_dataset("last_kept", data=chunk.last_kept)
            if chunk.moved is not None:
                g.create_dataset("moved", data=np.asarray(chunk.moved, dtype=np.int64))
            random_state_to_h5(g, chunk.random_state)

    def read_chunk(self, path: Path, *, data: bool = True) -> Chunk:
        """Read a chunk's file; ``data=False`` skips its samples (state and counters only).

        Args:
            path: the chunk's file.
            data: read ``chain`` and ``log_prob`` too (empty arrays otherwise).

        Returns:
            The chunk.

        Raises:
            DnnlikError: the file is unreadable or incomplete (start again with overwrite=True).
        """
        try:
            with h5py.File(path, "r") as f:
                g = f["state"]
                return Chunk(
                    segment=int(f.attrs["segment"]),
                    index=int(f.attrs["index"]),
                    step_start=int(f.attrs["step_start"]),
                    step_end=int(f.attrs["step_end"]),
                    steps=f["steps"][()],
                    chain=f["chain"][()] if data else np.empty((0,)),
                    log_prob=f["log_prob"][()] if data else np.empty((0,)),
                    coords=g["coords"][()],
                    state_log_prob=g["log_prob"][()],
                    random_state=random_state_from_h5(g),
                    counters=json.loads(f.attrs["counters"]),
                    last_kept=g["last_kept"][()] if "last_kept" in g else None,
                    moved=g["moved"][()] if "moved" in g else None,
                    wall_time_s=float(f.attrs["wall_time_s"]),
                )
        except (OSError, KeyError, ValueError) as exc:
            raise DnnlikError(
                f"unreadable checkpoint ({exc}); start again with overwrite=True", where=str(path)
            ) from None
