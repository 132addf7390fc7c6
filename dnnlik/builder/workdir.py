"""The work folder of one build command inside its output folder: continue the same command, refuse another.

``dnnlik build pyhf ... --out DIR`` keeps every stage's result in ``DIR/.work``
(:data:`WORK`), so that the same command, rerun after it was killed at any
point, continues. The folder records the command's inputs and recipe
(``command.json``: the fields and their digest); a rerun whose fields differ is
refused before anything is written, naming the fields that differ. The plan
made at the first run (the POI grid, the sample sizes) is kept beside it
(``plan.json``) and reused, so that a rerun never changes what the samples
already drawn were drawn for.

>>> record = command_record({"workspace_sha256": "ab", "quick": True})
>>> record["fields"]["quick"], len(record["digest"])
(True, 64)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import InvalidInputError

__all__ = ["WORK", "command_record", "check_output_folder", "open_work", "read_json_file", "write_json_file"]

WORK = ".work"
"""The work folder's name inside the output folder."""
RECORD = "command.json"
"""The command's record inside the work folder."""


def command_record(fields: Mapping[str, Any]) -> dict[str, Any]:
    """``{"fields": fields, "digest": sha256 of their canonical JSON}``.

    Args:
        fields: what makes the command's result (inputs' digests, the recipe), JSON values.

    Returns:
        The record.
    """
    canonical = json.dumps(dict(fields), sort_keys=True, separators=(",", ":"), allow_nan=False)
    return {"fields": json.loads(canonical), "digest": hashlib.sha256(canonical.encode("utf-8")).hexdigest()}


def read_json_file(path: Path) -> Any:
    """A small JSON file of the work folder, read with the bounded reader.

    Raises:
        InvalidInputError: it cannot be read or is not bounded JSON.
    """
    from ..bundle.document import loads_bounded

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInputError(f"cannot be read ({exc.strerror})", where=str(path)) from None
    return loads_bounded(data, max_bytes=16 * 1024 * 1024, where=str(path))


def write_json_file(path: Path, value: Any) -> None:
    """Write ``value`` as indented JSON, atomically."""
    from ..fsutil import atomic_write_text

    atomic_write_text(path, json.dumps(value, indent=2, allow_nan=False) + "\n")


def check_output_folder(out: Path, record: Mapping[str, Any] | None) -> bool:
    """Check, writing nothing, that ``out`` may hold this command's build; True when it holds its earlier work.

    Args:
        out: the output folder.
        record: this command's :func:`command_record`; None: check only that ``out`` is new, empty or a build
            (before the inputs are read, which takes longer).

    Returns:
        Whether ``out/.work`` is this command's (a rerun continues it); False for a new or empty folder.

    Raises:
        InvalidInputError: ``out`` is not a folder; it is not empty and holds no build; or its work folder
            is another command's (the message names the fields that differ) or has no readable record.
    """
    if not out.exists():
        return False
    if not out.is_dir():
        raise InvalidInputError("exists and is not a folder", where=str(out))
    work = out / WORK
    if not work.is_dir():
        if any(out.iterdir()):
            raise InvalidInputError(
                f"is not empty and holds no build ({WORK}/): give a new or empty folder", where=str(out)
            )
        return False
    path = work / RECORD
    if record is None:
        return True
    if not path.is_file():
        raise InvalidInputError(
            f"holds a work folder without its {RECORD}: delete {work} to start again", where=str(out)
        )
    earlier = read_json_file(path)
    if not isinstance(earlier, dict) or earlier.get("digest") != record["digest"]:
        fields = earlier.get("fields") if isinstance(earlier, dict) else None
        fields = fields if isinstance(fields, dict) else {}
        differ = sorted(k for k in set(fields) | set(record["fields"]) if fields.get(k) != record["fields"].get(k))
        raise InvalidInputError(
            f"holds the work of another command (it differs in: {', '.join(differ) or 'its record'}): "
            f"rerun that command to continue it, give another --out, or delete {work} to start again",
            where=str(out),
        )
    return True


def open_work(out: Path, record: Mapping[str, Any]) -> Path:
    """Create ``out/.work`` (and ``out``) with the command's record, or return the existing one.

    Args:
        out: the output folder, checked by :func:`check_output_folder`.
        record: this command's :func:`command_record`.

    Returns:
        The work folder.

    Raises:
        DnnlikError: the folder cannot be created.
    """
    from ..fsutil import write_error

    work = out / WORK
    try:
        work.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_error(exc, out, action="cannot create the output folder") from None
    if not (work / RECORD).is_file():
        write_json_file(work / RECORD, dict(record))
    return work
