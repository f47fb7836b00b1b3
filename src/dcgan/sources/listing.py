"""Image folders (searched recursively) or text files of paths: the input of `source: images` and `faces`.

Every file is considered, whatever its extension: its content decides whether it is an image, so a
JPEG named .png or with no extension is used and a text file named .jpg is rejected. Hidden files and
folders (names starting with '.') are skipped; symlinked folders are followed, each real folder once;
special files (FIFOs, sockets, devices) are rejects, never opened, as reading one could block for ever.
The list is sorted, so parts are deterministic. File names that are not valid UTF-8 are kept as
Python keeps them (surrogate-escaped): the list file and the tables hold their raw bytes.
"""

from __future__ import annotations

import collections
import hashlib
import os
import stat
from pathlib import Path

from dcgan.errors import UserError
from dcgan.files import NAME_ERRORS, write_bytes, write_tsv
from dcgan.imageformat import sniff_format
from dcgan.imageops import BadImage

SPECIAL_FILES = (
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
)


def special_file(mode: int) -> str | None:
    """What a file of this mode is when it is not a regular file or a folder (None otherwise)."""
    return next((kind for test, kind in SPECIAL_FILES if test(mode)), None)


def source_problem(source: str | Path) -> str | None:
    """Why `source` cannot be an image folder or list file (None when it can): checked before any job runs."""
    source = Path(source)
    if source.is_dir():
        return None
    if not source.exists():
        return f"no such file or folder: {source}"
    if not source.is_file():
        return f"{source} is neither a folder nor a file"
    with open(source, "rb") as f:
        head = f.read(4096)
    expected = "expected a folder of images or a text file with one image path a line"
    fmt = sniff_format(head)
    if fmt:
        return f"{source} is an image file ({fmt}); {expected}"
    if b"\0" in head:  # text has no NUL bytes; binary formats (archives, LMDBs, videos) do
        return f"{source} is not a text file; {expected}"
    return None


def walk_images(root: Path) -> tuple[list[str], list[tuple[str, str]]]:
    """(files, rejects) under `root`, as sorted paths relative to it. Symlinked folders are followed, each
    real folder once: a link to a folder already listed (a loop, or a second way to it) is a reject, as
    is a broken or looping link or an unreadable folder."""
    files, rejects = [], []
    seen = {_identity(root)[:2]: "."}
    pending = collections.deque([root])  # breadth first: a folder is listed by its shortest path
    while pending:
        folder = pending.popleft()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as e:
            rejects.append((os.path.relpath(folder, root), f"unreadable folder: {e.strerror}"))
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            relative = os.path.relpath(entry.path, root)
            identity = _identity(entry.path)
            if identity is None:
                reason = "broken or looping symlink" if entry.is_symlink() else "unreadable"
                rejects.append((relative, reason))
            elif stat.S_ISDIR(identity[2]):
                if identity[:2] in seen:
                    first = seen[identity[:2]]
                    loop = first == "." or relative.startswith(first + os.sep)
                    rejects.append((relative, f"{'symlink loop' if loop else 'second link'} to {first}, listed once"))
                else:
                    seen[identity[:2]] = relative
                    pending.append(Path(entry.path))
            elif kind := special_file(identity[2]):
                rejects.append((relative, f"not a regular file ({kind})"))
            else:
                files.append(relative)
    return sorted(files), sorted(rejects)


def _identity(path) -> tuple[int, int, int] | None:
    """(device, inode, mode) of a file or folder, following links; None when it cannot be stat'ed."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino, info.st_mode


def list_images(source: str | Path) -> tuple[Path, list[str], list[tuple[str, str]]]:
    """(root, sorted paths relative to root, rejects) for a folder, or for a text file with one path a
    line (relative paths are taken from the text file's folder)."""
    problem = source_problem(source)
    if problem:
        raise UserError(problem)
    source = Path(source)
    if source.is_dir():
        return (source, *walk_images(source))
    lines = [line.strip() for line in source.read_text(errors=NAME_ERRORS).splitlines()]
    return source.parent, sorted({line for line in lines if line and not line.startswith("#")}), []


def write_list(source: str | Path, out: str | Path, rejects: str | Path | None = None) -> tuple[int, int]:
    """Write the sorted input list (root on the first line, then one relative path a line) and the
    entries left out (path, reason); return how many of each."""
    root, paths, rejected = list_images(source)
    odd = {p for p in paths if any(c in p for c in "\t\n\r")}  # the list holds one name a line
    if odd:
        paths = [p for p in paths if p not in odd]
        rejected = sorted(rejected + [(p, "a tab or line break in the file name") for p in odd])
    if rejects is not None:
        write_tsv(rejects, ("path", "reason"), rejected)
    write_bytes(out, ("\n".join([str(root)] + paths) + "\n").encode(errors=NAME_ERRORS))
    return len(paths), len(rejected)


def read_list(path: str | Path) -> tuple[Path, list[str]]:
    lines = Path(path).read_text(errors=NAME_ERRORS).splitlines()
    return Path(lines[0]), lines[1:]


def read_listed(path: Path) -> bytes:
    """The bytes of a listed file; BadImage for a FIFO, socket or device (a list file may name one),
    which is never read: opening without blocking, then checking what was opened, leaves no race."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with open(fd, "rb") as f:
        kind = special_file(os.fstat(fd).st_mode)
        if kind:
            raise BadImage(f"not a regular file ({kind})")
        return f.read()


def part_slice(count: int, part: int, parts: int) -> slice:
    """Contiguous, near-equal slices of a sorted list: each item in exactly one part."""
    return slice(count * part // parts, count * (part + 1) // parts)


def path_key(path: str) -> str:
    """The image-table key of a listed path (20 hex digits of its SHA-1)."""
    return hashlib.sha1(path.encode(errors=NAME_ERRORS)).hexdigest()[:20]
