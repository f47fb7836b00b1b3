"""The image table: the contract between the image stages and everything after them.

A dataset's table is a folder of parts. Part i is four files sharing the prefix `part-XXXX`:
`.npy` (uint8 RGB, N x S x S x 3), `.tsv` (row-aligned metadata, first column `key`),
`.rejects.tsv` (`key<TAB>reason` for every input that could not be used) and `.json` (provenance).
"""

from __future__ import annotations

import contextlib
import os
import re
import struct
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from dcgan.files import (
    atomic_path,
    damaged_file,
    load_npy,
    npy_layout,
    read_first_column,
    read_tsv,
    write_json,
    write_tsv,
)
from dcgan.provenance import record

_SAFE_KEY = re.compile(r"[A-Za-z0-9_-]{1,200}")
_BUFFER = 256  # images gathered in one reused buffer before each write
_HEADER_BYTES = 128  # fixed .npy header size, so it can be written last, once N is known


def part_prefix(table_dir: str | Path, index: int) -> Path:
    return Path(table_dir) / f"part-{index:04d}"


def is_safe_key(key: str) -> bool:
    """Keys become WebDataset member names: letters, digits, '_' and '-' only (never a dot)."""
    return _SAFE_KEY.fullmatch(key) is not None


def npy_header(count: int, size: int) -> bytes:
    """A version 1.0 .npy header for a uint8 (count, size, size, 3) array, padded to 128 bytes."""
    text = "{'descr': '|u1', 'fortran_order': False, 'shape': (%d, %d, %d, 3), }" % (count, size, size)
    text = text.ljust(_HEADER_BYTES - 10 - 1) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode("latin1")


class PartWriter:
    """Streams one part's images to its .npy and collects metadata rows and rejects.

    Memory stays bounded by a small reused buffer, whatever the part's size. Use as a context manager:
    on success call finish(); on an exception nothing is left behind.
    """

    def __init__(self, prefix: str | Path, image_size: int, columns: Sequence[str]):
        self.prefix = Path(prefix)
        self.image_size = image_size
        self.columns = tuple(columns)
        self._rows: list = []
        self._rejects: list = []
        self._buffer = np.empty((_BUFFER, image_size, image_size, 3), np.uint8)
        self._buffered = 0
        self._started = time.perf_counter()
        self._files = contextlib.ExitStack()

    def __enter__(self) -> "PartWriter":
        tmp = self._files.enter_context(atomic_path(self.prefix.with_suffix(".npy")))
        self._npy = self._files.enter_context(open(tmp, "wb"))
        self._npy.write(npy_header(0, self.image_size))
        return self

    def __exit__(self, *exc) -> None:
        self._files.__exit__(*exc)

    def __len__(self) -> int:
        return len(self._rows)

    @property
    def rows(self) -> tuple:
        """The rows added so far, in order."""
        return tuple(self._rows)

    def add(self, image: np.ndarray, row: Sequence) -> None:
        if len(row) != len(self.columns) or not is_safe_key(str(row[0])):
            raise ValueError(f"bad table row {row!r}")
        self._buffer[self._buffered] = image
        self._buffered += 1
        self._rows.append(row)
        if self._buffered == _BUFFER:
            self._flush()

    def reject(self, key: str, reason: str) -> None:
        self._rejects.append((key, reason.replace("\t", " ").replace("\n", " ")))

    def _flush(self) -> None:
        self._npy.write(self._buffer[: self._buffered].data)
        self._buffered = 0

    def finish(self, stage: str, settings: dict, **results) -> dict:
        """Complete the .npy and write .tsv, .rejects.tsv and .json; returns the provenance record."""
        self._flush()
        self._npy.seek(0)
        self._npy.write(npy_header(len(self._rows), self.image_size))
        self._files.close()  # closes the .npy and renames it into place
        write_tsv(self.prefix.with_suffix(".tsv"), self.columns, self._rows)
        write_tsv(self.prefix.with_suffix(".rejects.tsv"), ("key", "reason"), self._rejects)
        seconds = time.perf_counter() - self._started
        n = len(self._rows)
        meta = record(
            stage,
            settings,
            images=n,
            rejects=len(self._rejects),
            seconds=round(seconds, 3),
            images_per_second=round(n / seconds, 1) if seconds > 0 else None,
            **results,
        )
        write_json(self.prefix.with_suffix(".json"), meta)
        return meta


def read_part(prefix: str | Path) -> tuple[np.ndarray, list[dict[str, str]]]:
    """(images as a read-only memory map, metadata rows) of one part."""
    prefix = Path(prefix)
    images = load_npy(prefix.with_suffix(".npy"), mmap_mode="r")
    rows = read_tsv(prefix.with_suffix(".tsv"))
    if len(rows) != len(images):
        raise damaged_file(prefix.with_suffix(".tsv"), "image-table part", f"{len(rows)} rows for {len(images)} images")
    return images, rows


class TableImages:
    """Every part's images of a table as one indexable sequence, read with positioned reads: random
    access reads only the images asked for (a memory map would read ahead around each and hold it)."""

    def __init__(self, table_dir: str | Path, parts: int):
        self._paths = [part_prefix(table_dir, p).with_suffix(".npy") for p in range(parts)]
        self._layout = []  # (data offset, rows, image shape) per part
        for path in self._paths:
            offset, shape, _ = npy_layout(path)
            self._layout.append((offset, shape[0], tuple(shape[1:])))
        self._offsets = np.cumsum([0] + [rows for _, rows, _ in self._layout])
        self._shape = next((shape for _, rows, shape in self._layout if rows), (0, 0, 3))

    def __len__(self) -> int:
        return int(self._offsets[-1])

    def __getitem__(self, index: int) -> np.ndarray:
        return self.take([index])[0]

    def take(self, indices) -> np.ndarray:
        """The images at these table indices, in that order, as one (N, S, S, 3) uint8 array."""
        indices = np.asarray(indices, np.int64)
        out = np.empty((len(indices), *self._shape), np.uint8)
        nbytes = int(np.prod(self._shape))
        part = np.searchsorted(self._offsets, indices, side="right") - 1
        for p in np.unique(part):
            start = self._layout[p][0]
            fd = os.open(self._paths[p], os.O_RDONLY)
            try:
                for k in np.flatnonzero(part == p):
                    os.preadv(fd, [out[k]], start + int(indices[k] - self._offsets[p]) * nbytes)
            finally:
                os.close(fd)
        return out


def read_keys(table_dir: str | Path, part: int) -> np.ndarray:
    """One part's keys as a bytes array in row order."""
    return read_first_column(part_prefix(table_dir, part).with_suffix(".tsv"))


def read_rejects(prefix: str | Path) -> list[dict[str, str]]:
    return read_tsv(Path(prefix).with_suffix(".rejects.tsv"))
