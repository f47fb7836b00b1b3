"""Training input from the decoded set (dcgan.train.decoded) held in memory: batches gathered by index.

The way the fastest small-image trainers feed a GPU: the whole set as one uint8 tensor, each epoch a
permutation, each batch `images[order[i:i + B]]`, no decoding, collation or worker processes. Where the
array lives (`placement`): on the GPU when it fits on every rank ("device"); else memory-mapped on the
host, gathered into pinned buffers and copied on a stream of their own, beside the running step
("mapped"; on a CPU this is the only placement, and every process of a node shares the one file mapping).
An epoch's order and flips come from the seed and the epoch alone (NumPy, on the host: the same on every
device), and are split over the ranks exactly as the shard loader splits its samples: one contiguous
range per rank, every sample once per epoch, the same number of batches on every rank, a rank with one
sample more folding it into its last batch.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psutil
import torch

from dcgan.errors import UserError
from dcgan.shards.reader import shard_sizes, shard_urls
from dcgan.train.decoded import Decoded, decoded_bytes, open_decoded, write_decoded
from dcgan.train.distributed import Group
from dcgan.train.loader import Batch, Loader, batches_per_epoch, split, to_unit_range
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


def epoch_order(samples: int, seed: int, epoch: int, flip: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """The epoch's permutation of the rows and, with `flip`, which of them are mirrored."""
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(samples)
    return order, (rng.random(samples) < 0.5 if flip else None)


class ResidentLoader:
    """Iterate over one epoch of Batches from the decoded set; set_epoch(e) before each epoch (as Loader)."""

    def __init__(
        self,
        decoded: Decoded,
        batch_size: int,
        *,
        placement: str,
        rank: int = 0,
        world_size: int = 1,
        seed: int = 0,
        flip: bool = False,
        device: torch.device | str = "cpu",
        layout: torch.memory_format = torch.contiguous_format,
    ):
        self.samples = len(decoded.images)
        self.batch_size, self.batches = (
            batch_size,
            batches_per_epoch(self.samples, batch_size, world_size, decoded.path),
        )
        self.rank, self.world_size, self.seed, self.flip = rank, world_size, seed, flip
        self.device, self.layout, self.placement = torch.device(device), layout, placement
        self.keys, self.hashes = decoded.keys, decoded.hashes
        self.images = torch.from_numpy(decoded.images)
        if placement == "device":
            self.images = self.images.to(self.device)
        self.staging = self._staging() if placement == "mapped" and self.device.type == "cuda" else None
        self.copier = torch.cuda.Stream(self.device) if self.staging else None  # host-to-device copies
        self.epoch = 0

    def _staging(self) -> list[tuple[torch.Tensor, torch.cuda.Event]]:
        """Two pinned batch buffers, each with the event that says its last copy to the GPU is done."""
        shape = (self.batch_size + 1, *self.images.shape[1:])  # + 1: a last batch may fold in one more sample
        return [(torch.empty(shape, dtype=torch.uint8, pin_memory=True), torch.cuda.Event()) for _ in range(2)]

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.batches

    def _gather(self, rows: torch.Tensor, number: int) -> torch.Tensor:
        """uint8 (n, S, S, 3) images of `rows` on the training device."""
        if self.staging is None:
            return self.images.index_select(0, rows)
        buffer, copied = self.staging[number % 2]
        copied.synchronize()  # the copy that last used this buffer is done
        batch = torch.index_select(self.images, 0, rows, out=buffer[: len(rows)])
        with torch.cuda.stream(self.copier):  # beside the step still running on the compute stream
            on_device = batch.to(self.device, non_blocking=True)
            copied.record(self.copier)
        compute = torch.cuda.current_stream(self.device)
        compute.wait_event(copied)  # the step that takes this batch starts once it is on the device
        on_device.record_stream(compute)  # its memory is not reused until that step is done with it
        return on_device

    def __iter__(self) -> Iterator[Batch]:
        order, flips = epoch_order(self.samples, self.seed, self.epoch, self.flip)
        start, stop = split(0, self.samples, self.world_size, self.rank)
        my_rows = order[start:stop]
        rows = torch.from_numpy(my_rows)
        if self.placement == "device":
            rows = rows.to(self.device)
        mirrored = torch.from_numpy(flips[start:stop]).to(self.device) if flips is not None else None
        for number in range(self.batches):
            low = number * self.batch_size
            high = len(my_rows) if number == self.batches - 1 else low + self.batch_size
            images = self._gather(rows[low:high], number)
            if mirrored is not None:
                images = torch.where(mirrored[low:high, None, None, None], images.flip(2), images)
            taken = my_rows[low:high]
            yield Batch(
                to_unit_range(images, self.layout),
                [key.decode() for key in self.keys[taken]],
                int(self.hashes[taken].sum(dtype=np.uint64)),
            )


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
