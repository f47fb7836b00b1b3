"""Cost of the data stages at growing N, extrapolated to LSUN bedrooms (3,033,042 images).

1. Generates an LSUN-format LMDB of N images with its own generator (not the demo's photos): procedural
   room-like scenes (smooth walls, furniture blocks, texture), JPEG q75 at a shorter side of 256 like
   LSUN's scene categories, 40-hex keys, and ~10% near-duplicate copies made by edits the demo does not
   use (re-encodes at other qualities, smaller re-uploads, asymmetric border crops, contrast and
   brightness, blur, a watermark), with a truth file.
2. Runs extract -> dedup_train -> dedup_hash -> dedup_filter -> shards as the workflow runs them: one
   `python -m dcgan ...` process per job, one thread, parts of 25,000 images. For each job: wall and CPU
   time (rusage), peak RSS (rusage) and peaks of its anonymous and file-backed parts (/proc, sampled).
3. A full-scale stand-in for the two jobs that see the whole dataset at once (dedup_filter, shards):
   3,033,042 table rows in 64 parts (sparse image files: zeros cost no disk), synthetic codes for 19
   views with ~10% planted copies and repeated codes inside images.

Prints per stage the cost per image at each N (and its growth), the extrapolation to 3,033,042 images
(CPU-hours, memory per job, disk) and the wall time of the whole data pipeline on one 16-core node.

    python benchmarks/scale.py [--sizes 25000 100000] [--standin 3033042] [--workdir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import lmdb
import numpy as np

from dcgan.dedup.scoring import score
from dcgan.dedup.views import view_margins
from dcgan.files import read_tsv, write_tsv
from dcgan.table import npy_header, part_prefix

LSUN = 3_033_042
PART_SIZE = 25_000  # images per extract / dedup_hash job here (the paper config: 64 parts of ~47k)
NODE_CORES = 16
EDITS = ("exact", "reencode", "smaller", "crop", "contrast", "blur", "watermark")
_TILES = None


def _noise_tiles() -> list[np.ndarray]:
    rng = np.random.default_rng(12345)
    return [cv2.GaussianBlur(rng.integers(0, 24, (600, 600, 3), dtype=np.uint8), (3, 3), 0) for _ in range(4)]


def scene(seed: tuple) -> np.ndarray:
    """A procedural room-like BGR image, shorter side 256 (as LSUN's scene categories)."""
    global _TILES
    if _TILES is None:
        _TILES = _noise_tiles()
    rng = np.random.default_rng(seed)
    h, w = (256, int(rng.integers(256, 420))) if rng.random() < 0.85 else (int(rng.integers(256, 420)), 256)
    coarse = rng.integers(20, 235, (int(rng.integers(2, 6)), int(rng.integers(2, 6)), 3)).astype(np.uint8)
    image = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    for _ in range(int(rng.integers(3, 10))):
        x0, y0 = int(rng.integers(-40, w)), int(rng.integers(-40, h))
        x1, y1 = x0 + int(rng.integers(20, w // 2)), y0 + int(rng.integers(15, h // 2))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.random() < 0.7:
            cv2.rectangle(image, (x0, y0), (x1, y1), colour, -1 if rng.random() < 0.8 else 3)
        else:
            cv2.ellipse(
                image, (((x0 + x1) / 2, (y0 + y1) / 2), (x1 - x0, y1 - y0), float(rng.uniform(0, 180))), colour, -1
            )
    tiles = [_TILES[int(i)] for i in rng.integers(0, len(_TILES), 2)]
    oy, ox = (int(v) for v in rng.integers(0, 600 - 420, 2))
    image = cv2.add(image, np.ascontiguousarray(tiles[0][oy : oy + h, ox : ox + w]))
    return cv2.subtract(image, np.ascontiguousarray(tiles[1][oy : oy + h, ox : ox + w]))


def edited(image: np.ndarray, edit: str, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """A near-duplicate of `image` (BGR) and the JPEG quality to store it at."""
    h, w = image.shape[:2]
    if edit == "reencode":
        return image, int(rng.integers(55, 96))
    if edit == "smaller":
        s = rng.uniform(0.4, 0.8)
        return cv2.resize(image, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA), 75
    if edit == "crop":
        t, b, left, right = (int(round(rng.uniform(0.005, 0.035) * n)) for n in (h, h, w, w))
        return np.ascontiguousarray(image[t : h - b, left : w - right]), 75
    if edit == "contrast":
        return cv2.convertScaleAbs(image, alpha=rng.uniform(0.8, 1.2), beta=rng.uniform(-18, 18)), 75
    if edit == "blur":
        return cv2.GaussianBlur(image, (0, 0), rng.uniform(0.6, 1.2)), 75
    if edit == "watermark":
        marked = image.copy()
        corner = (int(rng.integers(5, w // 3)), int(rng.integers(h - 20, h - 5)))
        cv2.putText(marked, "(c) photos", corner, cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
        return marked, 75
    raise ValueError(edit)


def _make_value(item: tuple) -> bytes:
    seed, base, edit, index = item
    image = scene((seed, base))
    quality = 75
    if edit not in (None, "exact"):
        image, quality = edited(image, edit, np.random.default_rng((seed, base, index)))
    return cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes()


def make_lmdb(path: Path, count: int, seed: int = 0) -> dict:
    """An LSUN-format LMDB of `count` JPEG values, ~10% of them near-duplicate copies; returns the truth
    ({'groups': [[key, ...]], 'copies': {key: edit}}, as the demo generator's truth files)."""
    rng = np.random.default_rng(seed)
    copies = count // 10
    bases = count - copies
    base_of = np.concatenate([np.arange(bases), rng.integers(0, bases, copies)])
    edits = [None] * bases + [EDITS[i] for i in rng.integers(0, len(EDITS), copies)]
    keys = [hashlib.sha1(f"{seed}-{i}".encode()).hexdigest() for i in range(count)]
    items = [(seed, int(base_of[i]), edits[i], i) for i in range(count)]
    path.mkdir(parents=True, exist_ok=True)
    with multiprocessing.Pool(os.cpu_count()) as pool, lmdb.open(str(path), map_size=count * 80_000) as env:
        values = pool.imap(_make_value, items, chunksize=256)
        for lo in range(0, count, 5000):
            with env.begin(write=True) as txn:
                for i in range(lo, min(lo + 5000, count)):
                    txn.put(keys[i].encode(), next(values))
    groups: dict[int, list[str]] = {}
    for i in range(count):
        groups.setdefault(int(base_of[i]), []).append(keys[i])
    return {
        "groups": [g for g in groups.values() if len(g) > 1],
        "copies": {keys[i]: edits[i] for i in range(bases, count)},
    }


def run_job(cmd: list[str], log: Path) -> dict:
    """Run one job; its wall and CPU seconds, peak RSS and sampled peaks of anonymous and file RSS (MB)."""
    started = time.perf_counter()
    with open(log, "ab") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env={**os.environ, "OMP_NUM_THREADS": "1"})
        anon = file = 0
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            try:
                fields = dict(line.split(":", 1) for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines())
                anon = max(anon, int(fields["RssAnon"].split()[0]))
                file = max(file, int(fields["RssFile"].split()[0]) + int(fields["RssShmem"].split()[0]))
            except (OSError, KeyError, ValueError):
                pass
            time.sleep(0.02)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed ({os.waitstatus_to_exitcode(status)}): {' '.join(cmd)}; see {log}")
    return {
        "wall": time.perf_counter() - started,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss": usage.ru_maxrss / 1024,
        "anon": anon / 1024,
        "file": file / 1024,
    }


def combine(jobs: list[dict]) -> dict:
    """A stage's jobs run one after another: summed times, the largest peaks."""
    return {
        "jobs": len(jobs),
        "wall": sum(j["wall"] for j in jobs),
        "cpu": sum(j["cpu"] for j in jobs),
        **{k: max(j[k] for j in jobs) for k in ("rss", "anon", "file")},
    }


def dcgan(*args) -> list[str]:
    return [sys.executable, "-m", "dcgan", *map(str, args)]


def folder_bytes(path: Path, pattern: str = "*") -> int:
    return sum(p.stat().st_blocks * 512 for p in path.glob(pattern) if p.is_file())


def pipeline(root: Path, count: int) -> tuple[dict, dict]:
    """The data stages on a generated LMDB of `count` images; (per-stage costs, facts)."""
    lmdb_path = root / f"lmdb-{count}"
    truth_path = root / f"truth-{count}.json"
    if not truth_path.exists():
        started = time.perf_counter()
        truth_path.write_text(json.dumps(make_lmdb(lmdb_path, count)))
        print(
            f"  generated {count} images in {time.perf_counter() - started:.0f} s "
            f"({(lmdb_path / 'data.mdb').stat().st_size / count / 1024:.1f} KB per value)",
            flush=True,
        )
    work = root / f"run-{count}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    table, hashes, dedup, log = work / "images", work / "hashes", work / "dedup", work / "jobs.log"
    parts = max(1, round(count / PART_SIZE))
    stages = {}
    stages["extract"] = combine(
        [
            run_job(dcgan("extract", lmdb_path, table, "--part", p, "--parts", parts, "--image-size", 64), log)
            for p in range(parts)
        ]
    )
    stages["dedup_train"] = run_job(dcgan("dedup", "train", table, "--parts", parts, "--model", work / "ae.pt"), log)
    stages["dedup_hash"] = combine(
        [
            run_job(
                dcgan(
                    "dedup",
                    "hash",
                    table,
                    "--part",
                    p,
                    "--out",
                    hashes / f"part-{p:04d}.npy",
                    "--method",
                    "autoencoder",
                    "--model",
                    work / "ae.pt",
                    "--views",
                    2,
                ),
                log,
            )
            for p in range(parts)
        ]
    )
    stages["dedup_filter"] = run_job(
        dcgan(
            "dedup",
            "filter",
            table,
            "--parts",
            parts,
            "--hashes",
            hashes,
            "--out-dir",
            dedup,
            "--method",
            "autoencoder",
            "--radius",
            0,
            "--views",
            2,
            "--verify",
            0.94,
        ),
        log,
    )
    stages["shards"] = run_job(
        dcgan(
            "shards",
            table,
            "--parts",
            parts,
            "--duplicates",
            dedup / "duplicates.tsv",
            "--out",
            work / "shards",
            "--dataset",
            "bedroom",
        ),
        log,
    )
    keys = {r["key"] for p in range(parts) for r in read_tsv(part_prefix(table, p).with_suffix(".tsv"))}
    rows = len(keys)
    quality = score(read_tsv(dedup / "duplicates.tsv"), json.loads(truth_path.read_text()), keys)
    trained = json.loads((work / "ae.json").read_text())
    facts = {
        "images": rows,
        "parts": parts,
        "quality": quality,
        "ae_steps": trained["steps"],
        "ae_sample": trained["sample"],
        "disk": {
            "table": folder_bytes(table, "part-*.npy") / rows,
            "hashes": folder_bytes(hashes) / rows,
            "shards": folder_bytes(work / "shards") / rows,
        },
    }
    return stages, facts


def write_standin(root: Path, count: int, parts: int = 64, seed: int = 0) -> tuple[Path, Path]:
    """`count` table rows in `parts` parts (sparse 64x64 image files, LSUN-style TSV rows) and 19-view
    codes: random, with ~10% of images sharing 1-4 view codes with an earlier image (their pixels equal:
    all zeros) and ~40% repeating a code among their own views."""
    rng = np.random.default_rng(seed)
    table, hashes = root / "images", root / "hashes"
    table.mkdir(parents=True)
    hashes.mkdir()
    nviews = len(view_margins(2))
    bounds = np.linspace(0, count, parts + 1).astype(np.int64)
    codes = rng.integers(0, 256, (count, nviews, 16), dtype=np.uint8)
    copies = rng.choice(np.arange(1, count), count // 10, replace=False)
    originals = (rng.random(len(copies)) * copies).astype(np.int64)
    for shared in range(1, 5):
        chosen = rng.random(len(copies)) < 1 / shared
        v, w = rng.integers(0, nviews, (2, int(chosen.sum())))
        codes[copies[chosen], v] = codes[originals[chosen], w]
    repeats = rng.random(count) < 0.4
    codes[repeats, 1] = codes[repeats, 0]
    for part in range(parts):
        lo, hi = bounds[part], bounds[part + 1]
        prefix = part_prefix(table, part)
        with open(prefix.with_suffix(".npy"), "wb") as f:
            f.write(npy_header(int(hi - lo), 64))
            f.truncate(len(npy_header(0, 64)) + int(hi - lo) * 64 * 64 * 3)
        keys = [f"{i:040x}" for i in range(lo, hi)]
        write_tsv(
            prefix.with_suffix(".tsv"),
            ("key", "source", "width", "height", "format"),
            ((k, k, 341, 256, "jpeg") for k in keys),
        )
        np.save(hashes / f"part-{part:04d}.npy", codes[lo:hi])
    return table, hashes


def standin(root: Path, count: int) -> dict:
    shutil.rmtree(root, ignore_errors=True)
    started = time.perf_counter()
    table, hashes = write_standin(root, count)
    print(f"  stand-in of {count} rows written in {time.perf_counter() - started:.0f} s", flush=True)
    log = root / "jobs.log"
    stages = {
        "dedup_filter": run_job(
            dcgan(
                "dedup",
                "filter",
                table,
                "--parts",
                64,
                "--hashes",
                hashes,
                "--out-dir",
                root / "dedup",
                "--method",
                "autoencoder",
                "--radius",
                0,
                "--views",
                2,
                "--verify",
                0.94,
            ),
            log,
        )
    }
    stages["shards"] = run_job(
        dcgan(
            "shards",
            table,
            "--parts",
            64,
            "--duplicates",
            root / "dedup/duplicates.tsv",
            "--out",
            root / "shards",
            "--dataset",
            "bedroom",
        ),
        log,
    )
    removed = json.loads((root / "dedup/stats.json").read_text())["removed"]
    return {"stages": stages, "removed": removed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[25_000, 100_000])
    parser.add_argument("--standin", type=int, default=LSUN, help="rows of the full-scale stand-in (0: skip it)")
    parser.add_argument("--workdir", type=Path, help="keep generated data here between runs (default: a temp folder)")
    args = parser.parse_args()
    root = args.workdir or Path(tempfile.mkdtemp(prefix="dcgan-scale-"))
    root.mkdir(parents=True, exist_ok=True)
    print(f"machine: {os.cpu_count()} cores; workdir {root}; one process per job, one thread each", flush=True)
    measured = {}
    for count in args.sizes:
        print(f"N = {count}:", flush=True)
        measured[count] = pipeline(root, count)
        q = measured[count][1]["quality"]
        print(
            f"  dedup against the truth: precision {q['precision']:.3f}, recall {q['recall']:.3f} "
            f"({q['redundant']} redundant copies)",
            flush=True,
        )
    stand = standin(root / "standin", args.standin) if args.standin else None

    names = ("extract", "dedup_train", "dedup_hash", "dedup_filter", "shards")
    print("\nper stage, at each N: jobs, wall s, CPU s, images/s per core, peak RSS / anonymous / file-backed MB")
    for name in names:
        for stages, facts in measured.values():
            s = stages[name]
            print(
                f"  {name:<13} N={facts['images']:>7}: {s.get('jobs', 1):>2} jobs {s['wall']:>8.1f} {s['cpu']:>8.1f} "
                f"{facts['images'] / s['cpu']:>9.0f} img/s  {s['rss']:>6.0f} / {s['anon']:>6.0f} / {s['file']:>6.0f}"
            )
    if stand:
        for name, s in stand["stages"].items():
            print(
                f"  {name:<13} stand-in {args.standin}: wall {s['wall']:.1f} s, CPU {s['cpu']:.1f} s, "
                f"{args.standin / s['cpu']:.0f} img/s; peak RSS {s['rss']:.0f} MB, anonymous {s['anon']:.0f} MB, "
                f"file-backed {s['file']:.0f} MB ({stand['removed']} planted copies removed)"
            )

    small, large = (measured[c] for c in (min(measured), max(measured)))
    print(
        f"\ngrowth of the cost per image from N={small[1]['images']} to N={large[1]['images']} "
        f"(1.00 = flat; dedup_train has a fixed budget, its total is compared):"
    )
    for name in names:
        a, b = small[0][name]["cpu"], large[0][name]["cpu"]
        ratio = b / a if name == "dedup_train" else (b / large[1]["images"]) / (a / small[1]["images"])
        print(f"  {name:<13} {ratio:.2f}")

    stages, facts = large
    print(
        f"\nat {LSUN:,} images (LSUN bedrooms), from N={facts['images']} (per-part jobs, partitions: 64) and the "
        "stand-in (jobs that see every image):"
    )
    node = 0.0
    for name in names:
        s = stages[name]
        per_image = s["cpu"] / facts["images"]
        if name == "dedup_train":
            cpu, wall = s["cpu"], s["wall"]  # a fixed budget: the same work at any N
        elif name in ("extract", "dedup_hash"):
            cpu = per_image * LSUN
            wall = cpu / NODE_CORES  # 64 independent jobs over 16 cores
        else:
            cpu = per_image * LSUN
            wall = max(cpu, stand["stages"][name]["wall"] if stand else 0.0)  # one job, one core
        memory = stand["stages"][name] if stand and name in stand["stages"] else s
        node += wall
        print(
            f"  {name:<13} {cpu / 3600:>6.2f} CPU-h; on one 16-core node {wall / 60:>6.1f} min; peak memory of a job "
            f"{memory['rss'] / 1024:.2f} GB ({memory['anon'] / 1024:.2f} GB anonymous)"
        )
    print(
        f"  extract + dedup + shards on one 16-core node (no GPU): {node / 60:.1f} min of wall time "
        "(assumes this machine's per-core speed, the per-part jobs spread over 16 cores, the single jobs "
        "one after another, and disks that keep up)"
    )
    disk = facts["disk"]
    print(
        f"  disk beside the 43 GB LMDB: image table {disk['table'] * LSUN / 1e9:.1f} GB, hashes "
        f"{disk['hashes'] * LSUN / 1e9:.1f} GB, shards {disk['shards'] * LSUN / 1e9:.1f} GB (while the shards job "
        f"runs, its buckets need as much again)"
    )
    if not args.workdir:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
