"""A dataset's shards decoded once into one uint8 array, for training from memory (`train.data: memory`).

The decode rule (`dcgan decode`) writes, in `results/{dataset}/decoded/` for training size S: `images-S.npy`
(N x S x S x 3 RGB, a plain .npy that every process memory-maps), `keys-S.txt` (one key a line, in row
order) and `decoded-S.json` (written last: what it was made from, its rejects). Rows follow the shards'
own order (index.json's list, file order within a shard), so the bytes depend only on the shards and S:
two runs write identical files, whatever the worker count. Shards are decoded in parallel, each worker
writing its shard's rows in place. The train job only opens the set, after checking it was made from its
very shards. Torch-free, so that decoding workers start fast.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import cv2
import numpy as np

from dcgan.errors import UserError
from dcgan.files import load_npy, no_space_reported, read_json, temporary_beside, write_bytes, write_json, write_tsv
from dcgan.progress import progress
from dcgan.provenance import record
from dcgan.shards.reader import counted, damaged_shard, sample_image, shard_list, shard_samples, shard_sizes, shard_urls
from dcgan.train.tracking import key_hashes


@dataclass(frozen=True)
class Decoded:
    images: np.ndarray  # (N, S, S, 3) uint8, memory-mapped copy-on-write (nothing is written back)
    keys: np.ndarray  # (N,) bytes: each row's key
    hashes: np.ndarray  # (N,) uint64: each row's key hash, the terms of tracking.keys_digest
    path: Path
    rejects: int


def decoded_bytes(samples: int, size: int) -> int:
    return samples * size * size * 3


def _decode_shard(url: str, images_path: str, first: int, count: int, size: int) -> tuple[list[str], list[tuple]]:
    """Decode one shard into rows first.. of the array file; returns its keys and (row, key, reason) rejects."""
    cv2.setNumThreads(1)
    images = np.load(images_path, mmap_mode="r+")
    keys, rejects = [], []
    for number, sample in enumerate(counted(url, shard_samples(url), count)):
        if number >= count:
            raise damaged_shard(url, f"more samples than index.json lists ({count})")
        try:
            images[first + number] = sample_image(sample, size)
        except ValueError as e:
            rejects.append((first + number, sample["__key__"], str(e)))
        keys.append(sample["__key__"])
    images.flush()
    return keys, rejects


def _decode_all(urls: list[str], sizes: list[int], images_path: Path, size: int, workers: int) -> tuple[list, list]:
    """Every shard into the array file, `workers` processes at a time (0 or 1: in this one)."""
    firsts = np.cumsum([0, *sizes[:-1]]).tolist()
    keys: list[list[str]] = [[] for _ in urls]
    rejects: list[tuple] = []
    bar = progress(total=sum(sizes), desc="decode shards")
    jobs = [(url, str(images_path), first, count, size) for url, first, count in zip(urls, firsts, sizes, strict=True)]
    if workers <= 1 or len(urls) == 1:
        for shard, job in enumerate(jobs):
            keys[shard], found = _decode_shard(*job)
            rejects += found
            bar.update(sizes[shard])
    else:  # spawned, not forked: the parent may hold OpenCV's thread pool or CUDA
        with ProcessPoolExecutor(min(workers, len(urls)), mp_context=get_context("spawn")) as pool:
            futures = {pool.submit(_decode_shard, *job): shard for shard, job in enumerate(jobs)}
            for future in as_completed(futures):
                shard = futures[future]
                keys[shard], found = future.result()
                rejects += found
                bar.update(sizes[shard])
    bar.close()
    return [k for shard_keys in keys for k in shard_keys], sorted(rejects)


def _compacted(images_path: Path, rejected: list[int]) -> None:
    """Drop the rejected rows from the array file, in place of the file (streamed, a chunk at a time)."""
    full = np.load(images_path, mmap_mode="r")
    keep = np.setdiff1d(np.arange(len(full)), rejected)
    smaller = temporary_beside(images_path)
    out = np.lib.format.open_memmap(smaller, mode="w+", dtype=np.uint8, shape=(len(keep), *full.shape[1:]))
    for start in range(0, len(keep), 65536):
        out[start : start + 65536] = full[keep[start : start + 65536]]
    out.flush()
    del out, full
    os.replace(smaller, images_path)


def _identity(shard_dir: Path, size: int) -> dict:
    """What the decoded set depends on: the shards (their index, and each file's size and modification
    time, so that a shard damaged or rewritten since is decoded, and its damage found, again) and the size."""
    index = shard_dir / "index.json"
    shard_files = []
    for shard in shard_list(index):
        path = shard_dir / shard["url"]
        info = path.stat() if path.is_file() else None
        shard_files.append([path.name, info.st_size, info.st_mtime_ns] if info else [path.name])
    return {"index_sha256": hashlib.sha256(index.read_bytes()).hexdigest(), "shard_files": shard_files, "size": size}


def _write(shard_dir: Path, urls: list[str], sizes: list[int], folder: Path, size: int, workers: int) -> None:
    """Decode into folder/images-S.npy (through a temporary file), then keys, rejects and the record."""
    images_path = folder / f"images-{size}.npy"
    scratch = temporary_beside(images_path)
    try:
        with no_space_reported(images_path, scratch, decoded_bytes(sum(sizes), size)):
            np.lib.format.open_memmap(scratch, mode="w+", dtype=np.uint8, shape=(sum(sizes), size, size, 3)).flush()
            keys, rejects = _decode_all(urls, sizes, scratch, size, workers)
            if rejects:
                _compacted(scratch, [row for row, _, _ in rejects])
            os.replace(scratch, images_path)
    finally:
        scratch.unlink(missing_ok=True)
    rejected = {row for row, _, _ in rejects}
    kept = [key for row, key in enumerate(keys) if row not in rejected]
    write_bytes(folder / f"keys-{size}.txt", "".join(f"{key}\n" for key in kept).encode())
    write_tsv(folder / f"rejects-{size}.tsv", ("key", "reason"), [(key, reason) for _, key, reason in rejects])
    write_json(
        folder / f"decoded-{size}.json",
        record(
            "decode",
            {"shards": str(shard_dir), **_identity(shard_dir, size)},
            images=len(kept),
            rejects=len(rejects),
            bytes=decoded_bytes(len(kept), size),
        ),
    )
    if rejects:
        print(
            f"decode: {len(rejects)} undecodable sample(s) left out of the decoded set "
            f"(listed in {folder / f'rejects-{size}.tsv'})",
            file=sys.stderr,
        )


def _open(folder: Path, size: int) -> Decoded:
    images = load_npy(folder / f"images-{size}.npy", mmap_mode="c")
    keys = (folder / f"keys-{size}.txt").read_text().splitlines()
    rejects = read_json(folder / f"decoded-{size}.json", "decoded-set record")["rejects"]
    if len(keys) != len(images) or images.shape[1:] != (size, size, 3):
        raise UserError(f"{folder}: images-{size}.npy and keys-{size}.txt disagree; delete the folder to decode again")
    return Decoded(images, np.array(keys, np.bytes_), key_hashes(keys), folder / f"images-{size}.npy", rejects)


def _made_from(record: Path, identity: dict) -> bool:
    """Whether the decoded set's record says it was made from these shards at this size (a damaged
    record: no, so the set is made again)."""
    try:
        settings = json.loads(record.read_text())["settings"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return all(settings.get(k) == v for k, v in identity.items())


def write_decoded(shard_dir: str | Path, folder: str | Path, size: int, *, workers: int) -> dict:
    """Decode a shard folder's samples at size x size into `folder`, unless it holds them already from
    these very shards; returns the set's record."""
    shard_dir, folder = Path(shard_dir), Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    made = folder / f"decoded-{size}.json"
    if not _made_from(made, _identity(shard_dir, size)):
        made.unlink(missing_ok=True)
        urls = shard_urls(shard_dir)
        _write(shard_dir, urls, shard_sizes(urls), folder, size, workers)
    return read_json(made, "decoded-set record")


def open_decoded(shard_dir: str | Path, folder: str | Path, size: int) -> Decoded:
    """The decoded set in `folder`, which must have been made from these very shards at this size."""
    shard_dir, folder = Path(shard_dir), Path(folder)
    if not _made_from(folder / f"decoded-{size}.json", _identity(shard_dir, size)):
        raise UserError(
            f"{folder}: not the decoded set of {shard_dir} at {size}x{size} (made from other shards, or not "
            "finished): decode them again (`dcgan decode`, the decode rule)"
        )
    return _open(folder, size)
