"""The training input: which loader a run trains from (`train.data`; rank 0 decides for every rank), and
the decoded set it reads when that is memory (the decode rule's, else decoded here once).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import psutil
import torch

from dcgan.errors import UserError
from dcgan.shards.reader import shard_sizes, shard_urls
from dcgan.train.decoded import Decoded, decoded_bytes, open_decoded, write_decoded
from dcgan.train.distributed import Group
from dcgan.train.loader import Loader, ResidentLoader
from dcgan.train.settings import DATA, TrainSettings

MEMORY_FRACTION = 0.5  # auto: train from memory when the decoded set takes at most this much of what is free


GRAPHS_NEED_MEMORY = (
    "train.graphs: on needs the training set in memory (train.data memory or auto): a captured step would "
    "race the shard loader's pin-memory thread"
)


def device_free_bytes(device: torch.device) -> int | None:
    """The GPU memory free to this process now; None on a CPU."""
    return torch.cuda.mem_get_info(device)[0] if device.type == "cuda" else None


def fewest_free_bytes(group: Group) -> int | None:
    """The least GPU memory free on any rank (each rank holds its own copy of a set on the device)."""
    free = group.gather(device_free_bytes(group.device))
    return None if None in free else min(free)


def choose_data(
    data: str, samples: int, size: int, device_free: int | None, *, captured: bool = False
) -> tuple[str, str | None]:
    """(mode, placement) for `train.data`: "memory" with "device" (when the set fits in half of
    `device_free`, the GPU memory free on every rank; None on a CPU) or "mapped", or "shards" with None.
    With `captured` (train.graphs on: a captured step), never shards: "auto" maps a set too large for memory instead."""
    if data not in DATA:
        raise UserError(f"train.data must be one of {', '.join(DATA)}, got {data!r}")
    if data == "shards":
        if captured:
            raise UserError(f"{GRAPHS_NEED_MEMORY} (this run: train.data shards)")
        return "shards", None
    needed = decoded_bytes(samples, size)
    if device_free is not None and needed <= MEMORY_FRACTION * device_free:
        return "memory", "device"
    if needed <= MEMORY_FRACTION * psutil.virtual_memory().available:
        return "memory", "mapped"
    if data == "auto" and not captured:
        return "shards", None
    print(
        f"train: warning: the decoded set ({needed / 1e9:.1f} GB) exceeds half of the free memory; it is read "
        "from its file mapping, paged in and out as the epoch goes",
        file=sys.stderr,
    )
    return "memory", "mapped"


def decoded_for(
    shard_dir: Path, decoded_dir: Path | None, out_dir: Path, size: int, group: Group, workers: int
) -> Decoded:
    """The decoded set this run trains on: the decode rule's (`decoded_dir`), else one decoded here into
    out_dir/decoded (reused by later runs) by rank 0 while the other ranks wait."""
    if decoded_dir is None:
        decoded_dir = out_dir / "decoded"
        if group.main:
            write_decoded(shard_dir, decoded_dir, size, workers=workers)
        group.share(None)  # the other ranks open it once it is written
    return open_decoded(shard_dir, decoded_dir, size)


def training_input(
    shard_dir: Path,
    out_dir: Path,
    settings: TrainSettings,
    size: int,
    group: Group,
    layout: torch.memory_format,
    captured: bool = False,
    decoded_dir: Path | None = None,
) -> tuple[Loader | ResidentLoader, dict]:
    """This rank's loader as `train.data` says (rank 0 decides for all), and what was chosen, for train.json.
    Training from memory reads the decoded set (`decoded_for`); a captured step (`captured`) always trains
    from memory."""
    indexed = (shard_dir / "index.json").is_file()
    if not indexed and (settings.data == "memory" or captured):
        wanted = "train.graphs on" if captured else "train.data memory"
        raise UserError(f"{wanted} needs a shard folder with its index.json (written by `dcgan shards`): {shard_dir}")
    common = {
        "rank": group.rank,
        "world_size": group.world_size,
        "seed": settings.seed,
        "flip": settings.flip,
        "device": group.device,
        "layout": layout,
    }
    mode, placement = "shards", None
    if indexed and settings.data != "shards":
        samples = sum(shard_sizes(shard_urls(shard_dir)))  # from index.json
        device_free = fewest_free_bytes(group)
        chosen = choose_data(settings.data, samples, size, device_free, captured=captured) if group.main else None
        mode, placement = group.share(chosen)
    if mode == "shards":
        return Loader(
            shard_dir,
            settings.batch_size,
            workers=settings.workers,
            shuffle_buffer=settings.shuffle_buffer,
            size=size,
            **common,
        ), {"mode": "shards"}
    began = time.perf_counter()
    decoded = decoded_for(shard_dir, decoded_dir, out_dir, size, group, settings.workers)
    loader = ResidentLoader(decoded, settings.batch_size, placement=placement, **common)
    return loader, {
        "mode": "memory",
        "placement": placement,
        "decoded": str(decoded.path),
        "rejects": decoded.rejects,
        "bytes": decoded.images.nbytes,
        "seconds_to_load": round(time.perf_counter() - began, 3),
    }
