"""Stage 4's commands: `shards` (the table minus its duplicates, shuffled into WebDataset shards) and
`verify-shards`."""

from __future__ import annotations

import argparse

from dcgan.commands import TABLE_DIR, add_command, add_settings, positive, settings_from
from dcgan.shards.settings import ShardSettings


def _shards(args: argparse.Namespace) -> None:
    from dcgan.shards.writer import write_shards

    settings = settings_from(ShardSettings, args)
    meta = write_shards(args.table_dir, args.parts, args.duplicates, args.out, dataset=args.dataset, settings=settings)
    print(f"{args.out}: {meta['images']} images in {meta['shards']} shards ({meta['removed']} duplicates left out)")


def _verify_shards(args: argparse.Namespace) -> None:
    from dcgan.shards.reader import verify_shards

    found = verify_shards(args.shard_dir)
    print(
        f"{args.shard_dir}: {found['shards']} shards, {found['samples']} samples, all match manifest.tsv and index.json"
    )


def add_shards_commands(sub) -> None:
    p = add_command(sub, "shards", "image table minus duplicates -> shuffled WebDataset shards", _shards)
    p.add_argument("table_dir", help=f"the {TABLE_DIR}")
    p.add_argument("--parts", type=positive, required=True, help="number of parts of the table")
    p.add_argument("--duplicates", required=True, help="duplicates.tsv written by dedup filter")
    p.add_argument("--out", required=True, help="shard folder to write (replaced whole)")
    p.add_argument("--dataset", required=True, help="dataset name: shard file prefix and sample metadata")
    add_settings(p, ShardSettings, "shards")

    p = add_command(
        sub, "verify-shards", "check a shard folder against its manifest.tsv and index.json", _verify_shards
    )
    p.add_argument("shard_dir", help="the shard folder")
