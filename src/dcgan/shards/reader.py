"""Reading shards back: a folder's shard files and their sizes, the samples of one shard and their images,
and a check of a shard folder against its manifest. Torch-free (decoding workers import it)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import cv2
import numpy as np
import simplejpeg

from dcgan.errors import UserError
from dcgan.files import damaged_file, file_digests, read_json, read_tsv


def shard_list(index_path: str | Path) -> list[dict]:
    """index.json's list of shards ({"url", "nsamples", "filesize", "md5sum"} each), checked to be one."""
    listed = read_json(index_path, "shard index")
    if not isinstance(listed, dict) or not isinstance(listed.get("shardlist"), list):
        raise damaged_file(index_path, "shard index", "no shardlist")
    return listed["shardlist"]


def verify_shards(shard_dir: str | Path) -> dict:
    """Check every shard against manifest.tsv and index.json; raise UserError at the first mismatch."""
    shard_dir = Path(shard_dir)
    manifest_path, index_path = shard_dir / "manifest.tsv", shard_dir / "index.json"
    for path in (manifest_path, index_path):
        if not path.is_file():
            raise UserError(f"{path}: missing (not a shard folder written by `dcgan shards`?)")
    manifest = read_tsv(manifest_path)
    listed = shard_list(index_path)
    if [m["shard"] for m in manifest] != [s["url"] for s in listed]:
        raise UserError(f"{shard_dir}: manifest.tsv and index.json list different shards")
    extra = sorted({p.name for p in shard_dir.glob("*.tar")} - {m["shard"] for m in manifest})
    if extra:
        raise UserError(f"{shard_dir / extra[0]}: not in manifest.tsv")
    samples = 0
    for entry, indexed in zip(manifest, listed, strict=True):
        path = shard_dir / entry["shard"]
        if not path.is_file():
            raise UserError(f"{path}: missing")
        if path.stat().st_size != int(entry["bytes"]):
            raise UserError(f"{path}: {path.stat().st_size} bytes, manifest says {entry['bytes']}")
        md5, sha = file_digests(path)
        if sha != entry["sha256"]:
            raise UserError(f"{path}: sha256 {sha} does not match the manifest's {entry['sha256']}")
        if md5 != indexed["md5sum"]:
            raise UserError(f"{path}: md5 {md5} does not match index.json's {indexed['md5sum']}")
        found = sum(1 for _ in shard_samples(str(path)))
        if found != int(entry["nsamples"]) or found != indexed["nsamples"]:
            raise UserError(
                f"{path}: {found} samples, manifest says {entry['nsamples']}, index.json {indexed['nsamples']}"
            )
        samples += found
    return {"shards": len(manifest), "samples": samples}


def damaged_shard(url: str, problem: str) -> UserError:
    """The one-line error for a shard that cannot be read as written, with the way out."""
    folder = Path(url).parent
    return UserError(f"{url}: {problem}: the shard is damaged; delete {folder} and run again to write the shards anew")


def counted(url: str, samples: Iterator[dict], expected: int) -> Iterator[dict]:
    """`samples` of the shard `url`, checked to be the `expected` number (a shard cut short reads as a
    shorter one, not as an error)."""
    found = 0
    for sample in samples:
        found += 1
        yield sample
    if found != expected:
        raise damaged_shard(url, f"{found} samples where index.json lists {expected}")


def shard_samples(url: str, start: int = 0, stop: int | None = None) -> Iterator[dict]:
    """The samples of a local tar shard in file order: {'__key__', '__url__', ext: bytes, ...}; only
    those numbered [start, stop) from 0 (the ones before `start` are passed over without copying).

    Memory-maps the file (wids' reader) rather than streaming it through `tarfile`, about ten times
    faster per sample; members of one sample are consecutive, as every WebDataset writer makes them.
    """
    from wids.wids_mmtar import MMIndexedTar

    try:
        tar = MMIndexedTar(url, verbose=False)
    except (ValueError, OSError) as e:
        raise damaged_shard(url, f"unreadable ({e})") from None
    try:
        sample: dict = {}
        key, number = None, -1
        for name, data in tar:
            member_key, _, ext = name.rpartition("/")[2].partition(".")
            if member_key != key:
                if sample:
                    yield sample
                    sample = {}
                key, number = member_key, number + 1
                if stop is not None and number >= stop:
                    return
                if number >= start:
                    sample = {"__key__": key, "__url__": url}
            if sample:
                sample[ext] = bytes(data)
        if sample:
            yield sample
    finally:
        tar.close()


def shard_urls(source: str | Path) -> list[str]:
    """The shard files of a folder (its index.json, else every *.tar) or of a brace pattern."""
    import braceexpand

    path = Path(source)
    if path.is_dir():
        index = path / "index.json"
        if index.is_file():
            urls = [str(path / s["url"]) for s in shard_list(index)]
        else:
            urls = sorted(str(p) for p in path.glob("*.tar"))
        if not urls:
            raise UserError(f"{path}: no shards in this folder")
    else:
        urls = list(braceexpand.braceexpand(str(source)))
    missing = [u for u in urls if not Path(u).is_file()]
    if missing:
        raise UserError(
            f"shard not found: {missing[0]}" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
        )
    return urls


def shard_sizes(urls: list[str]) -> list[int]:
    """Samples per shard: from the folder's index.json when it lists these shards, else by reading them."""
    index = Path(urls[0]).parent / "index.json"
    if index.is_file():
        listed = {str(index.parent / s["url"]): s["nsamples"] for s in shard_list(index)}
        if all(url in listed for url in urls):
            return [listed[url] for url in urls]
    return [sum(1 for _ in shard_samples(url)) for url in urls]


IMAGE_EXTENSIONS = ("jpg", "png", "webp")


def decode_rgb(data: bytes, name: str) -> np.ndarray:
    """RGB pixels of an encoded image: libjpeg-turbo through simplejpeg for JPEG, OpenCV otherwise."""
    try:
        if data[:2] == b"\xff\xd8":
            return simplejpeg.decode_jpeg(data, colorspace="RGB")
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR_RGB)
    except ValueError:
        image = None
    if image is None:
        raise ValueError(f"undecodable image in sample {name}")
    return image


def sample_image(sample: dict, size: int = 0) -> np.ndarray:
    """A shard sample's RGB image, downscaled to size x size (INTER_AREA) unless size is 0."""
    ext = next((e for e in IMAGE_EXTENSIONS if e in sample), None)
    if ext is None:
        raise ValueError(f"sample {sample['__key__']} in {sample['__url__']} has no {'/'.join(IMAGE_EXTENSIONS)} image")
    image = decode_rgb(sample[ext], f"{sample['__key__']} of {sample['__url__']}")
    if size and image.shape[:2] != (size, size):
        image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    return image
