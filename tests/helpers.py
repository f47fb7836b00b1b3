"""What the tests share besides fixtures: real photos and encodings, LMDBs, image tables and the small demo
workflow (`.test/config/config.yaml`: the embedded demo shrunk to seconds)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import cv2
import lmdb
import numpy as np
import yaml
from PIL import Image
from snakemake.api import SnakemakeApi
from snakemake.settings.types import ConfigSettings, DAGSettings, OutputSettings, ResourceSettings

from dcgan.demo import photos
from dcgan.files import write_tsv
from dcgan.table import PartWriter, part_prefix


def photo_rgb(name: str = "astronaut") -> np.ndarray:
    """A real photo from an installed package, RGB."""
    photo = next(p for p in photos.PHOTOS if p.name == name)
    return cv2.cvtColor(photos.load(photo), cv2.COLOR_BGR2RGB)


def pil_bytes(rgb: np.ndarray, fmt: str, **kwargs) -> bytes:
    """Encode with Pillow (an encoder independent of the OpenCV code under test)."""
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def write_lmdb(path: Path, values: dict[bytes, bytes]) -> Path:
    path.mkdir(parents=True)
    size = max(1 << 24, 2 * sum(len(v) for v in values.values()))
    with lmdb.open(str(path), map_size=size) as env, env.begin(write=True) as txn:
        for key, value in values.items():
            txn.put(key, value)
    return path


SIZE = 32


def smooth_image(rng: np.random.Generator) -> np.ndarray:
    """A random smooth colour image (JPEG keeps it within a few grey levels)."""
    coarse = rng.integers(0, 256, (4, 4, 3)).astype(np.float32)
    return cv2.resize(coarse, (SIZE, SIZE), interpolation=cv2.INTER_LINEAR).astype(np.uint8)


def make_table(root: Path, parts: int, per_part: int, *, faces: bool = False, seed: int = 0) -> tuple[Path, dict]:
    """A table of `parts` parts; returns (table dir, key -> image)."""
    rng = np.random.default_rng(seed)
    table = root / "images"
    columns = ("key", "source", "width", "height") + (
        ("x", "y", "w", "h", "score", "sharpness", "detector") if faces else ()
    )
    pixels = {}
    for part in range(parts):
        with PartWriter(part_prefix(table, part), SIZE, columns) as writer:
            for i in range(per_part):
                key = f"k{part}_{i:04d}"
                image = smooth_image(rng)
                pixels[key] = image
                row = [key, f"src/{key}.jpg", 100 + i, 80]
                if faces:
                    row += [10.5, 12, 40, 40, 0.93, 812.5, "verified"]
                writer.add(image, row)
            writer.finish("test", {})
    return table, pixels


def write_duplicates(path: Path, removed: list[str], kept_of: str) -> Path:
    write_tsv(path, ("key", "duplicate_of", "distance"), [(k, kept_of, 0) for k in removed])
    return path


REPO = Path(__file__).resolve().parents[1]
TEST_CONFIG = REPO / ".test" / "config" / "config.yaml"  # the catalog's test config: the demo shrunk to seconds
SMALL_DEMO = yaml.safe_load(TEST_CONFIG.read_text())


def merge(config: dict, changes: dict) -> None:
    """`changes` merged into `config` in place; a key whose value is None is removed."""
    for key, value in changes.items():
        if value is None:
            config.pop(key, None)
        elif isinstance(value, dict) and isinstance(config.get(key), dict):
            merge(config[key], value)
        else:
            config[key] = value


def write_config(path: Path, overrides: dict | None = None) -> Path:
    """The test config with `overrides` merged into it."""
    config = yaml.safe_load(TEST_CONFIG.read_text())
    merge(config, overrides or {})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config))
    return path


def snakemake_command(workdir: Path, *args: str, overrides: dict | None = None) -> list[str]:
    """`snakemake ARGS` on the small demo in `workdir` (the command line loads the default profile)."""
    config = write_config(workdir / "small.yaml", overrides)
    # ARGS first: --configfile and --cache take several values, so targets after them would be read as theirs
    return [
        sys.executable,
        "-m",
        "snakemake",
        *args,
        "-s",
        str(REPO / "Snakefile"),
        "-d",
        str(workdir),
        "--configfile",
        str(config),
    ]


def snakemake(
    workdir: Path, *args: str, overrides: dict | None = None, env: dict | None = None, timeout: int = 900
) -> subprocess.CompletedProcess:
    return subprocess.run(
        snakemake_command(workdir, *args, overrides=overrides), env=env, capture_output=True, text=True, timeout=timeout
    )


def run_workflow(
    workdir: Path, targets: list[str], *, dryrun: bool, config: dict | None = None, forcerun: frozenset = frozenset()
) -> list[str]:
    """Run (or dry-run) the targets; return the rule names of the jobs that had to run, sorted."""
    cwd = os.getcwd()
    try:
        with SnakemakeApi(OutputSettings(quiet=None)) as api:
            workflow = api.workflow(
                resource_settings=ResourceSettings(cores=2),
                config_settings=ConfigSettings(configfiles=[REPO / "config" / "config.yaml"], config=config or {}),
                snakefile=REPO / "Snakefile",
                workdir=workdir,
            )
            dag = workflow.dag(DAGSettings(targets=targets, forcerun=forcerun))
            dag.execute_workflow(executor="local", pseudo_executor="dryrun" if dryrun else None)
            return sorted(job.rule.name for job in workflow._workflow.dag.needrun_jobs(exclude_finished=False))
    finally:
        os.chdir(cwd)
