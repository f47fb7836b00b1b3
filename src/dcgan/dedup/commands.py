"""Stage 2's commands: `dedup train` (the hash autoencoder), `dedup hash` (one table part) and
`dedup filter` (the collisions of all parts)."""

from __future__ import annotations

import argparse

from dcgan.commands import TABLE_DIR, Threads, add_command, add_settings, non_negative, positive, settings_from
from dcgan.dedup.settings import AutoencoderSettings, DedupTrainJob, FilterSettings, HashSettings


def _dedup_train(args: argparse.Namespace) -> None:
    from dcgan.dedup.stages import train_stage

    meta = train_stage(
        args.table_dir,
        args.parts,
        args.model,
        settings_from(AutoencoderSettings, args),
        threads=args.threads,
        checkpoint_every=args.checkpoint_every,
    )
    print(
        f"autoencoder trained for {meta['steps']} steps on a sample of {meta['sample']} of {meta['images']} images "
        f"({meta['device']}), final loss {meta['losses_every_250_steps'][-1]}"
    )


def _dedup_hash(args: argparse.Namespace) -> None:
    from dcgan.dedup.stages import hash_stage

    settings = settings_from(HashSettings, args)
    done = hash_stage(args.table_dir, args.part, args.out, settings, args.model, threads=args.threads)
    print(
        f"part {args.part}: {done['images']} images hashed ({done['bits']} bits, {done['views']} views), "
        f"{done['images_per_second']} images/s"
    )


def _dedup_filter(args: argparse.Namespace) -> None:
    from dcgan.dedup.stages import filter_stage

    stats = filter_stage(args.table_dir, args.parts, args.hashes, args.out_dir, settings_from(FilterSettings, args))
    print(f"{args.table_dir}: {stats['message']} among {stats['images']} images")


def add_dedup_commands(sub) -> None:
    dedup = sub.add_parser("dedup", help="near-duplicate removal: train | hash | filter")
    steps = dedup.add_subparsers(dest="step", required=True, metavar="<step>")

    p = add_command(steps, "train", "train the hash autoencoder on an image table", _dedup_train)
    p.add_argument("table_dir", help=f"the {TABLE_DIR}")
    p.add_argument("--parts", type=positive, required=True, help="number of parts of the table")
    p.add_argument("--model", required=True, help="weights file to write (.pt; a .json record beside it)")
    add_settings(p, DedupTrainJob)
    add_settings(p, Threads)
    add_settings(p, AutoencoderSettings, "dedup.autoencoder")

    p = add_command(steps, "hash", "hash one image-table part", _dedup_hash)
    p.add_argument("table_dir", help=f"the {TABLE_DIR}")
    p.add_argument("--part", type=non_negative, required=True, help="which part to hash, 0-based")
    p.add_argument("--out", required=True, help="hash file to write (.npy, one row per table row)")
    p.add_argument("--model", help="the trained autoencoder (method autoencoder)")
    add_settings(p, HashSettings, "dedup")
    add_settings(p, Threads)

    p = add_command(
        steps, "filter", "group colliding hashes; write duplicates.tsv, stats.json, galleries", _dedup_filter
    )
    p.add_argument("table_dir", help=f"the {TABLE_DIR}")
    p.add_argument("--parts", type=positive, required=True, help="number of parts of the table")
    p.add_argument("--hashes", required=True, help="folder of part-XXXX.npy hash files")
    p.add_argument("--out-dir", required=True, help="writes duplicates.tsv, stats.json, gallery.png, largest.png")
    add_settings(p, FilterSettings, "dedup")
