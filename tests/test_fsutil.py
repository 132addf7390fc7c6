"""The one implementation of atomic writes and of the "already exists" check (dnnlik.fsutil, dnnlik.errors)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from dnnlik import fsutil
from dnnlik.bundle.write import write_bundle, zip_bundle
from dnnlik.errors import DnnlikError, InvalidInputError, OutputExistsError
from dnnlik.fsutil import atomic_directory, atomic_replace, atomic_write_bytes, refuse_existing, write_error


def test_atomic_replace_keeps_the_old_file_on_error_and_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "f.bin"
    target.write_bytes(b"old")
    target.chmod(0o640)
    with pytest.raises(RuntimeError), atomic_replace(target) as tmp:
        assert tmp.parent == tmp_path and tmp.exists()
        tmp.write_bytes(b"half")
        raise RuntimeError("killed")
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["f.bin"]
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new" and [p.name for p in tmp_path.iterdir()] == ["f.bin"]
    assert target.stat().st_mode & 0o777 == 0o640


def test_atomic_writes_say_why_they_failed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "f.txt"
    target.write_bytes(b"old")

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fsutil.os, "fsync", full)
    with pytest.raises(DnnlikError, match=r"f\.txt: cannot write: no space left on the device \(disk full\)"):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["f.txt"]


@pytest.mark.parametrize(
    "code, why",
    [
        (errno.ENOSPC, "no space left on the device (disk full)"),
        (errno.EDQUOT, "disk quota exceeded"),
        (errno.EACCES, "not writable (Permission denied)"),
        (errno.EROFS, "not writable (Read-only file system)"),
        (errno.EIO, "Input/output error"),
    ],
)
def test_write_error_in_words(code: int, why: str) -> None:
    error = write_error(OSError(code, os.strerror(code)), "out.h5")
    assert str(error) == f"out.h5: cannot write: {why}"
    assert (
        write_error(OSError(code, os.strerror(code)), "d", action="cannot create the output folder").bare_message
        == f"cannot create the output folder: {why}"
    )


def test_atomic_directory_puts_the_old_folder_back_when_the_swap_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "old.txt").write_text("old")
    real_replace = os.replace

    def failing(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if Path(src).name.endswith(".tmp"):  # the new folder cannot be moved into place
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        real_replace(src, dst)

    monkeypatch.setattr(fsutil.os, "replace", failing)
    with (
        pytest.raises(DnnlikError, match="out: cannot move the output folder into place"),
        atomic_directory(target, overwrite=True) as tmp,
    ):
        (tmp / "new.txt").write_text("new")
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    assert [p.name for p in target.iterdir()] == ["old.txt"]


def test_output_exists_error_names_the_argument_or_the_alternatives(tmp_path: Path) -> None:
    error = OutputExistsError("out")
    assert str(error) == "out: already exists (pass overwrite=True to replace it)"
    assert isinstance(error, InvalidInputError) and error.hint is None and error.argument == "overwrite"
    hinted = OutputExistsError("s.h5", hint="use resume to continue an interrupted run or overwrite to replace it")
    assert str(hinted) == "s.h5: already exists; use resume to continue an interrupted run or overwrite to replace it"
    (tmp_path / "x").write_text("")
    with pytest.raises(OutputExistsError, match="already exists; use resume"):
        refuse_existing(tmp_path / "x", False, hint="use resume")
    refuse_existing(tmp_path / "x", True)
    refuse_existing(tmp_path / "absent", False)
    (tmp_path / "link").symlink_to(tmp_path / "nowhere")  # a dangling link would be replaced too
    with pytest.raises(OutputExistsError):
        refuse_existing(tmp_path / "link", False)


def test_every_bundle_writer_refuses_an_existing_output_alike(gaussian_bundle: Path, tmp_path: Path) -> None:
    for out in (tmp_path / "b.zip", tmp_path / "folder"):
        out.mkdir() if out.suffix != ".zip" else out.write_bytes(b"keep")
        with pytest.raises(OutputExistsError, match="already exists \\(pass overwrite=True to replace it\\)"):
            write_bundle(out, {"name": "x"}, {})
    with pytest.raises(OutputExistsError):
        zip_bundle(gaussian_bundle, tmp_path / "b.zip")
    assert (tmp_path / "b.zip").read_bytes() == b"keep"
