"""Read LSUN-format LMDBs: open read-only, split into key ranges, iterate one range.

LSUN keys are 40-character lowercase hex digests, so they spread evenly over the hex key space;
splitting that space gives balanced parts in O(1), with no scan. Any other key format still gets
a correct partition (contiguous byte ranges that cover every key exactly once), only less balanced.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from pathlib import Path
from typing import Iterator

import lmdb

from dcgan.errors import UserError
from dcgan.table import is_safe_key

_HEX = re.compile(rb"[0-9a-f]+")


def open_lmdb(path: str | Path) -> lmdb.Environment:
    """Open an LMDB read-only without a lock file, or raise a UserError naming the path (also when it
    holds no entries)."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"LMDB not found: {path}")
    if path.is_file() and path.suffix == ".zip":
        raise UserError(f"{path} is a zip archive: unzip it and point the config at the folder inside")
    subdir = path.is_dir()
    data = path / "data.mdb" if subdir else path
    if subdir and not data.is_file():
        raise UserError(f"not an LMDB: {path} (a folder without data.mdb)")
    if data.stat().st_size == 0:  # LMDB itself says only "Bad file descriptor"
        raise UserError(f"not an LMDB: {path} ({data} is an empty file: a copy or download cut short?)")
    try:
        env = lmdb.open(str(path), subdir=subdir, readonly=True, lock=False, readahead=True, max_readers=512)
    except lmdb.Error as e:
        raise UserError(f"not an LMDB: {path} ({e})") from None
    if env.stat()["entries"] == 0:
        env.close()
        raise UserError(f"the LMDB {path} is empty (0 entries)")
    return env


def key_ranges(first: bytes, last: bytes, parts: int) -> list[tuple[bytes | None, bytes | None]]:
    """`parts` contiguous [lo, hi) byte ranges covering every key from `first` to `last`."""
    if parts < 1:
        raise UserError(f"partitions must be at least 1, got {parts}")
    if len(first) == len(last) and _HEX.fullmatch(first) and _HEX.fullmatch(last):
        width = len(first)
        lo, hi = int(first, 16), int(last, 16) + 1

        def encode(value: int) -> bytes:
            return f"{value:0{width}x}".encode()

    else:
        width = max(len(first), len(last))
        lo = int.from_bytes(first.ljust(width, b"\0"), "big")
        hi = int.from_bytes(last.ljust(width, b"\0"), "big") + 1

        def encode(value: int) -> bytes:
            return value.to_bytes(width, "big")

    bounds: list[bytes | None] = [None]
    bounds += [encode(lo + (hi - lo) * i // parts) for i in range(1, parts)]
    bounds.append(None)
    return list(itertools.pairwise(bounds))


def part_range(env: lmdb.Environment, part: int, parts: int) -> tuple[bytes | None, bytes | None]:
    """The key range of `part` in a non-empty LMDB (as open_lmdb gives)."""
    if not 0 <= part < parts:
        raise UserError(f"part {part} is outside 0..{parts - 1}")
    with env.begin() as txn:
        cursor = txn.cursor()
        cursor.first()
        first = cursor.key()
        cursor.last()
        last = cursor.key()
    return key_ranges(first, last, parts)[part]


def iter_range(env: lmdb.Environment, lo: bytes | None, hi: bytes | None) -> Iterator[tuple[bytes, bytes]]:
    """(key, value) pairs with lo <= key < hi, in LMDB (byte) order."""
    with env.begin() as txn:
        cursor = txn.cursor()
        found = cursor.set_range(lo) if lo is not None else cursor.first()
        while found:
            key = cursor.key()
            if hi is not None and key >= hi:
                return
            yield key, cursor.value()
            found = cursor.next()


def table_key(raw: bytes) -> str:
    """The image-table key for an LMDB key: itself when safe (LSUN's hex keys), else a digest of it."""
    try:
        text = raw.decode("ascii")
        if is_safe_key(text):
            return text
    except UnicodeDecodeError:
        pass
    return "k" + hashlib.sha1(raw).hexdigest()


def source_key(raw: bytes) -> str:
    """The LMDB key as it can be written in a TSV cell."""
    try:
        text = raw.decode("ascii")
        if text.isprintable() and "\t" not in text:
            return text
    except UnicodeDecodeError:
        pass
    return "hex:" + raw.hex()
