"""Reading shards back: the samples of one shard, and a check of a shard folder against its manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

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
