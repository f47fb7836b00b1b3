"""Atomic output files: everything a stage writes appears whole or not at all."""

from __future__ import annotations

import contextlib
import csv
import errno
import glob
import hashlib
import io
import json
import os
import pickle
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from dcgan.errors import UserError


def _default_mode(kind: int) -> int:
    """The mode a plain open()/mkdir() would give (mkstemp/mkdtemp make 0600/0700 ones)."""
    umask = os.umask(0)
    os.umask(umask)
    return kind & ~umask


FILE_MODE, DIR_MODE = _default_mode(0o666), _default_mode(0o777)


def temporary_beside(path: Path, *, folder: bool = False) -> Path:
    """A new temporary file (or folder) `.NAME.*.tmp` beside `path`, with normal permissions.

    Leftovers of that name from a killed run are deleted first: Snakemake gives each output one job,
    so nothing else is writing them.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
    if folder:
        tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
        tmp.chmod(DIR_MODE)
    else:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        tmp = Path(name)
        tmp.chmod(FILE_MODE)
    return tmp


# A full disk, a full quota, or a file-size limit (ulimit -f): the user's to fix, not a bug.
NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def _readable_size(count: int) -> str:
    return f"{count / 1e9:,.1f} GB" if count >= 1e9 else f"{count / 1e6:,.1f} MB"


def _bytes_under(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else 0


@contextlib.contextmanager
def no_space_reported(
    path: str | os.PathLike, scratch: Path | None = None, needed: int | None = None
) -> Iterator[None]:
    """Turn running out of space while writing `path` into a UserError of one line: the file, the space it
    needs (`needed`, or more than what `scratch`, its temporary copy, holds) and the space left there."""
    try:
        yield
    except OSError as e:
        if e.errno not in NO_SPACE:
            raise
        if needed is None:
            written = _readable_size(_bytes_under(scratch) if scratch else 0)
            needs = f"it needs more than the {written} written when it failed"
        else:
            needs = f"it needs {_readable_size(needed)}"
        folder = Path(path).absolute().parent
        while not folder.exists():
            folder = folder.parent
        free = shutil.disk_usage(folder).free
        raise UserError(f"cannot write {path}: {e.strerror} ({needs}; {_readable_size(free)} free there)") from None


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, size: int | None = None) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` if the block succeeds. Running out of
    space is reported as a UserError naming `path` (and `size`, the bytes it needs, when known)."""
    path = Path(path)
    tmp = temporary_beside(path)
    try:
        with no_space_reported(path, tmp, size):
            yield tmp
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path, len(data)) as tmp:
        tmp.write_bytes(data)


def is_damage(error: Exception) -> bool:
    """Whether a loader's error means a damaged file (cut short, overwritten) rather than a missing one."""
    if isinstance(error, OSError) and not isinstance(error, zipfile.BadZipFile):
        return error.errno == errno.EINVAL  # torch's archive reader on a file cut short
    return isinstance(error, (RuntimeError, EOFError, ValueError, KeyError, pickle.UnpicklingError, zipfile.BadZipFile))


def damage_reason(error: Exception) -> str:
    """A loader's error (is_damage) in a few words."""
    if isinstance(error, OSError) and error.errno == errno.EINVAL:
        return "not a complete archive"
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def damaged_file(path: str | os.PathLike, what: str, reason: str) -> UserError:
    """The one-line error for an intermediate that cannot be read (a copy cut short, a full disk)."""
    return UserError(f"{path}: damaged {what} ({reason}); delete it and run again to write it anew")


def read_json(path: str | os.PathLike, what: str):
    """A JSON file a stage wrote; a damaged one (cut short, overwritten) is named in one line."""
    try:
        return json.loads(Path(path).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise damaged_file(path, what, str(e)) from None


def load_torch(path: str | os.PathLike, what: str):
    """torch.load (weights only, onto the CPU) of a file a stage wrote; a damaged one is named in one line."""
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        if not is_damage(e):
            raise
        raise damaged_file(path, what, damage_reason(e)) from None


def write_torch(path: str | os.PathLike, obj) -> None:
    """torch.save, atomically and byte-reproducibly: torch names the archive inside after the file it
    writes (for a temporary file, a random name), so the object is saved to memory first."""
    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    write_bytes(path, buffer.getbuffer())


def write_json(path: str | os.PathLike, obj) -> None:
    write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


# File names that are not valid UTF-8 are surrogate-escaped str in Python; text files that carry names
# (lists, tables, rejects) write and read them back as their raw bytes.
NAME_ERRORS = "surrogateescape"


def write_tsv(path: str | os.PathLike, header: Sequence[str], rows: Iterable[Sequence]) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="", errors=NAME_ERRORS) as f:
        writer = csv.writer(f, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
        writer.writerow(header)
        writer.writerows(rows)


def npy_layout(path: str | os.PathLike) -> tuple[int, tuple[int, ...], np.dtype]:
    """(data offset, shape, dtype) of a .npy file, checked to hold as many bytes as its header promises:
    a file cut short (a killed copy, a full disk) is named with the way out, not met as NumPy's
    traceback or as silent zeros."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = reader(f)
            offset = f.tell()
    except (ValueError, EOFError) as e:
        raise damaged_file(path, "array", f"no readable .npy header: {e}") from None
    expected = offset + int(np.prod(shape)) * dtype.itemsize
    size = path.stat().st_size
    if size != expected:
        raise damaged_file(path, "array", f"{size:,} bytes where its header promises {expected:,}")
    return offset, shape, dtype


def load_npy(path: str | os.PathLike, mmap_mode: str | None = None) -> np.ndarray:
    """np.load of an intermediate .npy (a memory map with `mmap_mode`), checked by npy_layout first."""
    npy_layout(path)
    return np.load(path, mmap_mode=mmap_mode)


def read_tsv(path: str | os.PathLike) -> list[dict[str, str]]:
    with open(path, newline="", errors=NAME_ERRORS) as f:
        return list(csv.DictReader(f, delimiter="\t"))


def read_first_column(path: str | os.PathLike) -> np.ndarray:
    """The first column of a TSV whose first column never needs quoting (keys), as a bytes array in row
    order: a few bytes per row, not a dict per row."""
    with open(path, "rb") as f:
        next(f, None)  # the header
        return np.array([line.split(b"\t", 1)[0].rstrip(b"\r\n") for line in f], dtype=bytes)


def source_stamp(path: str | os.PathLike) -> str:
    """A cheap fingerprint of raw input data, for Snakemake params (read at every DAG build).

    A file: its size and mtime. A folder: the mtimes of the folder and of its subfolders one level
    down, which change whenever an entry is added, removed or renamed up to two levels deep (in-place
    edits of a file's bytes are not seen; 3M files are not stat'ed on every run).
    """
    path = Path(path)
    if path.is_file():
        info = path.stat()
        return f"{info.st_size}-{info.st_mtime_ns}"
    digest = hashlib.sha256(f"{path.stat().st_mtime_ns}".encode())
    for entry in sorted(os.scandir(path), key=lambda e: e.name):
        try:
            if entry.name.startswith(".") or not entry.is_dir():
                continue
            mtime = entry.stat().st_mtime_ns  # through a symlink: the linked folder's
        except OSError:  # a symlink loop or a folder gone: listing reports it as a reject
            mtime = "unreadable"
        digest.update(f"\0{entry.name}\0{mtime}".encode())
    return digest.hexdigest()[:16]


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def file_digests(path: Path) -> tuple[str, str]:
    """(md5, sha256) of a file, read once."""
    md5, sha = hashlib.md5(), hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            md5.update(chunk)
            sha.update(chunk)
    return md5.hexdigest(), sha.hexdigest()
