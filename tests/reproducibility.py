"""Run the workflow twice from clean and compare the sha256 of every output that must be deterministic.

    python tests/reproducibility.py [--configfile FILE] [--cores N] [--keep DIR] [--targets T ...]

Without --configfile it runs the embedded demo (a few minutes per run). Prints one line per kind of
output and every file that differs; exits 1 if any file differs or a kind of output is missing.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DETERMINISTIC = {
    "image tables": ["results/*/images/part-*.npy", "results/*/images/part-*.tsv"],
    "input lists": ["results/*/inputs.txt"],
    "dedup autoencoder and hashes": ["results/*/dedup/autoencoder.pt", "results/*/dedup/hashes/part-*.npy"],
    "dedup decisions": ["results/*/dedup/duplicates.tsv"],
    "shards": ["results/*/shards/*.tar", "results/*/shards/index.json", "results/*/shards/manifest.tsv"],
    "decoded training sets": ["results/*/decoded/images-*.npy", "results/*/decoded/keys-*.txt"],
    "training checkpoints (CPU)": [
        "results/*/train/checkpoints/step-*.pt",
        "results/*/train/model.pt",
        "results/*/train/best.pt",
    ],
    "boxes found on samples (forget)": ["results/*/eval/forget_boxes.tsv"],
}


def checksums(workdir: Path) -> dict[str, dict[str, str]]:
    """{kind: {path relative to workdir: sha256}} for the deterministic outputs of a finished run."""
    found = {}
    for kind, patterns in DETERMINISTIC.items():
        paths = sorted({p for pattern in patterns for p in workdir.glob(pattern)})
        found[kind] = {str(p.relative_to(workdir)): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}
    return found


def run(workdir: Path, cores: int, configfile: str | None, targets: list[str]) -> None:
    command = [
        sys.executable,
        "-m",
        "snakemake",
        *targets,
        "--cores",
        str(cores),
        "-s",
        str(REPO / "Snakefile"),
        "-d",
        str(workdir),
    ] + (["--configfile", configfile] if configfile else [])
    print(f"running: {' '.join(command)}", flush=True)
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"the run in {workdir} failed:\n{result.stderr[-3000:]}")


def compare(first: dict, second: dict) -> list[str]:
    """Report lines; a line starting with 'DIFFERS' or 'MISSING' is a failure."""
    lines = []
    for kind in DETERMINISTIC:
        a, b = first[kind], second[kind]
        if not a and not b:
            lines.append(f"MISSING  {kind}: no such outputs in either run")
            continue
        differing = sorted(path for path in a.keys() | b.keys() if a.get(path) != b.get(path))
        lines.append(
            f"{'DIFFERS' if differing else 'same':8} {kind}: {len(a) - len(differing)} of {len(a | b)} files identical"
        )
        lines += [f"DIFFERS    {path}" for path in differing]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configfile", help="config to run (default: the embedded demo)")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--keep", help="run in DIR/run-1 and DIR/run-2 and keep them (default: a temporary folder)")
    parser.add_argument(
        "--targets",
        nargs="+",
        default=["all"],
        help="what to build (default: all; the outputs compared: the stages up to training, and the boxes of forget)",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="dcgan-repro-") as scratch:
        root = Path(args.keep or scratch)
        runs = [root / "run-1", root / "run-2"]
        for workdir in runs:
            if workdir.exists() and any(workdir.iterdir()):
                sys.exit(f"{workdir} is not empty: the runs must start from clean")
            run(workdir, args.cores, args.configfile, args.targets)
        lines = compare(*(checksums(workdir) for workdir in runs))
    print("\n".join(lines))
    return 1 if any(line.startswith(("DIFFERS", "MISSING")) for line in lines) else 0


if __name__ == "__main__":
    sys.exit(main())
