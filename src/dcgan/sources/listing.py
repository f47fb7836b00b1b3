"""Image folders (searched recursively) or text files of paths: the input of `source: images` and `faces`.

Every file is considered, whatever its extension: its content decides whether it is an image, so a
JPEG named .png or with no extension is used and a text file named .jpg is rejected. Hidden files and
folders (names starting with '.') are skipped. The list is sorted, so parts are deterministic.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from dcgan.errors import UserError
from dcgan.files import write_bytes


def list_images(source: str | Path) -> tuple[Path, list[str]]:
    """(root, sorted paths relative to root) for a folder, or for a text file with one path a line
    (relative paths are taken from the text file's folder)."""
    source = Path(source)
    if source.is_dir():
        found = []
        for folder, dirs, files in os.walk(source):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            found += [os.path.relpath(os.path.join(folder, f), source) for f in files if not f.startswith(".")]
        return source, sorted(found)
    if source.is_file():
        lines = [line.strip() for line in source.read_text(errors="replace").splitlines()]
        return source.parent, sorted({line for line in lines if line and not line.startswith("#")})
    raise UserError(f"image folder or list file not found: {source}")


def write_list(source: str | Path, out: str | Path) -> int:
    """Write the sorted input list (root on the first line, then one relative path a line)."""
    root, paths = list_images(source)
    bad = next((p for p in paths if "\n" in p or "\t" in p), None)
    if bad is not None:
        raise UserError(f"file name with a tab or newline is not supported: {bad!r}")
    write_bytes(out, ("\n".join([str(root)] + paths) + "\n").encode())
    return len(paths)


def read_list(path: str | Path) -> tuple[Path, list[str]]:
    lines = Path(path).read_text().splitlines()
    return Path(lines[0]), lines[1:]


def part_slice(count: int, part: int, parts: int) -> slice:
    """Contiguous, near-equal slices of a sorted list: each item in exactly one part."""
    return slice(count * part // parts, count * (part + 1) // parts)


def path_key(path: str) -> str:
    """The image-table key of a listed path (20 hex digits of its SHA-1)."""
    return hashlib.sha1(path.encode()).hexdigest()[:20]
