"""The two training loaders: batches of float NCHW tensors in [-1, 1], one epoch per iteration, the same
batches on every run given the seed, the epoch and the rank count.

Both split an epoch alike: the ranks of a DDP group together see every sample once, each in the same
number of batches (DDP steps in lockstep): one contiguous range of the epoch's order per rank (sizes
differ by at most one), a rank with one sample more folding it into its last batch.

Loader streams WebDataset shards. The shard order is shuffled per epoch; each rank's range is cut into
one per DataLoader worker, so a worker reads only its own shards (plus at most two it shares at its
ends). A worker shuffles through a buffer, decodes (simplejpeg, or OpenCV for PNG and WebP), downscales
to `size` when asked, and collates uint8 batches; the final partial batches of the workers are pooled.
The main process copies batches to the device (pinned memory, non-blocking) and scales to [-1, 1]
there, so the workers move a quarter of the bytes that float batches would take. Its batches also
depend on the worker count.

ResidentLoader reads the decoded set (dcgan.train.decoded) held in memory, the way the fastest
small-image trainers feed a GPU: the whole set as one uint8 tensor, each epoch a permutation (and
flips) from the seed and the epoch alone, each batch `images[order[i:i + B]]`, no decoding, collation
or worker processes. Where the array lives (`placement`): on the GPU when it fits on every rank
("device"); else memory-mapped on the host, gathered into pinned buffers and copied on a stream of
their own, beside the running step ("mapped"; on a CPU this is the only placement, and every process
of a node shares the one file mapping).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from dcgan.errors import UserError
from dcgan.shards.reader import counted, damaged_shard, sample_image, shard_samples, shard_sizes, shard_urls
from dcgan.train.decoded import Decoded
from dcgan.train.tracking import keys_digest


@dataclass
class Batch:
    images: torch.Tensor  # (N, 3, S, S) float32 in [-1, 1] on the loader's device
    keys: list[str]
    digest: int  # tracking.keys_digest(keys)


def split(start: int, stop: int, parts: int, part: int) -> tuple[int, int]:
    """The `part`-th of `parts` contiguous ranges of [start, stop), sizes differing by at most one."""
    size = stop - start
    return start + size * part // parts, start + size * (part + 1) // parts


def batches_per_epoch(samples: int, batch_size: int, world_size: int, source: object) -> int:
    """Batches every rank yields in one epoch: enough for the smallest rank's share (of `source`'s samples)."""
    if samples < world_size:
        raise UserError(f"{source}: {samples} samples cannot be shared by {world_size} processes")
    return -(-(samples // world_size) // batch_size)


class ShardStream(IterableDataset):
    """uint8 batches {'images': (N, S, S, 3), 'keys': [...]} of this rank's and worker's sample range."""

    def __init__(
        self,
        urls: list[str],
        sizes: list[int],
        *,
        batch_size: int,
        rank: int = 0,
        world_size: int = 1,
        seed: int = 0,
        shuffle_buffer: int,
        flip: bool = False,
        size: int = 0,
    ):
        self.urls, self.sizes, self.batch_size = list(urls), list(sizes), batch_size
        self.rank, self.world_size, self.seed = rank, world_size, seed
        self.shuffle_buffer, self.flip, self.size = shuffle_buffer, flip, size
        self.epoch = 0

    def _samples(self, worker: int, workers: int) -> Iterator[dict]:
        """This slice's samples: its contiguous range of the epoch's shard order."""
        order = list(range(len(self.urls)))
        random.Random(f"{self.seed}:{self.epoch}").shuffle(order)  # the same shard order on every slice
        total = sum(self.sizes)
        start, stop = split(*split(0, total, self.world_size, self.rank), workers, worker)
        offset = 0
        for shard in order:
            first, offset = offset, offset + self.sizes[shard]
            if offset <= start or first >= stop:
                continue
            begin, end = max(start - first, 0), min(stop, offset) - first
            yield from counted(self.urls[shard], shard_samples(self.urls[shard], begin, end), end - begin)

    def _shuffled(self, samples: Iterator[dict], rng: random.Random) -> Iterator[dict]:
        buffer: list[dict] = []
        for sample in samples:
            buffer.append(sample)
            if len(buffer) >= self.shuffle_buffer:
                yield buffer.pop(rng.randrange(len(buffer)))
        rng.shuffle(buffer)
        yield from buffer

    def __iter__(self) -> Iterator[dict]:
        cv2.setNumThreads(1)
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        rng = random.Random(f"{self.seed}:{self.epoch}:{self.rank}:{worker}")
        images, keys = [], []
        for sample in self._shuffled(self._samples(worker, workers), rng):
            try:
                image = sample_image(sample, self.size)
            except ValueError as e:
                raise damaged_shard(sample["__url__"], str(e)) from None
            if self.flip and rng.random() < 0.5:
                image = image[:, ::-1]
            images.append(image)
            keys.append(sample["__key__"])
            if len(images) == self.batch_size:
                yield {"images": torch.from_numpy(np.stack(images)), "keys": keys}
                images, keys = [], []
        if images:
            yield {"images": torch.from_numpy(np.stack(images)), "keys": keys}


def exact_batches(batches: Iterator[dict], batch_size: int, count: int) -> Iterator[dict]:
    """Exactly `count` batches: full ones pass through (one held back), the workers' final partial
    batches are pooled into full ones, and what would make more than `count` joins the last batch."""
    previous, partial = None, []
    for batch in batches:
        if len(batch["keys"]) < batch_size:
            partial.append(batch)
            continue
        if previous is not None:
            yield previous
            count -= 1
        previous = batch
    rest = ([previous] if previous is not None else []) + _pooled(partial, batch_size)
    while len(rest) > max(count, 1):
        rest[-2:] = _pooled(rest[-2:], 0)
    yield from rest


def _pooled(batches: list[dict], batch_size: int) -> list[dict]:
    """The samples of `batches` in order, re-cut into batches of batch_size (0: one batch)."""
    if not batches:
        return []
    images = torch.cat([b["images"] for b in batches])
    keys = [k for b in batches for k in b["keys"]]
    step = batch_size or len(keys)
    return [{"images": images[i : i + step], "keys": keys[i : i + step]} for i in range(0, len(keys), step)]


def to_unit_range(images: torch.Tensor, layout: torch.memory_format = torch.contiguous_format) -> torch.Tensor:
    """uint8 (N, S, S, 3) -> float32 (N, 3, S, S) in [-1, 1], on the tensor's device. The bytes are
    transposed (not the floats); channels_last is the NHWC bytes as they come."""
    return images.permute(0, 3, 1, 2).contiguous(memory_format=layout).float().mul_(1 / 127.5).sub_(1.0)


class Loader:
    """Iterate over one epoch of Batches; call set_epoch(e) before each epoch for a new order."""

    def __init__(
        self,
        source: str | Path,
        batch_size: int,
        *,
        workers: int = 2,
        rank: int = 0,
        world_size: int = 1,
        seed: int = 0,
        shuffle_buffer: int,
        flip: bool = False,
        size: int = 0,
        device: torch.device | str = "cpu",
        layout: torch.memory_format = torch.contiguous_format,
        prefetch: int = 4,
    ):
        urls = shard_urls(source)
        sizes = shard_sizes(urls)
        self.samples = sum(sizes)
        self.batches = batches_per_epoch(self.samples, batch_size, world_size, source)
        self.stream = ShardStream(
            urls,
            sizes,
            batch_size=batch_size,
            rank=rank,
            world_size=world_size,
            seed=seed,
            shuffle_buffer=shuffle_buffer,
            flip=flip,
            size=size,
        )
        self.device, self.layout = torch.device(device), layout
        self.workers, self.prefetch = workers, prefetch

    def set_epoch(self, epoch: int) -> None:
        self.stream.epoch = epoch

    def __len__(self) -> int:
        return self.batches

    def __iter__(self) -> Iterator[Batch]:
        loader = DataLoader(
            self.stream,
            batch_size=None,
            num_workers=self.workers,
            pin_memory=self.device.type == "cuda",
            prefetch_factor=self.prefetch if self.workers else None,
        )
        for batch in exact_batches(iter(loader), self.stream.batch_size, self.batches):
            images = batch["images"].to(self.device, non_blocking=True)
            yield Batch(to_unit_range(images, self.layout), batch["keys"], keys_digest(batch["keys"]))


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
