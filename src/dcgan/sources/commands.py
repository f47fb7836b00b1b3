"""Stage 1's commands: `extract` (LSUN LMDB), `list-images` and `extract-images` (image folders) and
`table-summary` (a dataset's whole table)."""

from __future__ import annotations

import argparse

from dcgan.commands import TABLE_DIR, add_command, add_settings, positive, settings_from
from dcgan.sources.settings import ExtractSettings, SummarySettings


def _extract(args: argparse.Namespace) -> None:
    from dcgan.sources.extract import extract_part

    settings = settings_from(ExtractSettings, args)
    meta = extract_part(args.lmdb, args.table_dir, settings)
    print(
        f"part {settings.part}/{settings.parts}: {meta['images']} images, {meta['rejects']} rejects, "
        f"{meta['images_per_second']} images/s"
    )


def _extract_images(args: argparse.Namespace) -> None:
    from dcgan.sources.images import extract_images_part

    settings = settings_from(ExtractSettings, args)
    meta = extract_images_part(args.inputs, args.table_dir, settings)
    print(
        f"part {settings.part}/{settings.parts}: {meta['images']} images in {len(meta['classes'])} classes from "
        f"{meta['source_images']} files, {meta['rejects']} rejects, {meta['images_per_second']} images/s"
    )


def _list_images(args: argparse.Namespace) -> None:
    from dcgan.sources.listing import write_list

    listed, rejected = write_list(args.source, args.out, args.rejects)
    print(
        f"{args.source}: {listed} files listed in {args.out}, {rejected} entries left out"
        + (f" (see {args.rejects})" if rejected and args.rejects else "")
    )


def _table_summary(args: argparse.Namespace) -> None:
    from dcgan.summary import summarise_table

    summary = summarise_table(args.table_dir, args.parts, args.out, dataset=args.dataset, source=args.source)
    reasons = ", ".join(f"{n} {r}" for r, n in sorted(summary["reject_reasons"].items())) or "none"
    print(f"{args.table_dir}: {summary['images']} images in {args.parts} parts; rejects: {reasons}")


def add_extract_commands(sub) -> None:
    p = add_command(sub, "extract", "one key range of an LSUN-format LMDB -> one image-table part", _extract)
    p.add_argument("lmdb", help="LMDB folder (with data.mdb) or file")
    p.add_argument("table_dir", help=f"{TABLE_DIR} to write")
    add_settings(p, ExtractSettings, "extract")

    p = add_command(
        sub,
        "list-images",
        "list an image folder (recursively, following symlinks once) or a list file, sorted",
        _list_images,
    )
    p.add_argument("source", help="image folder, or text file with one path a line")
    p.add_argument("out", help="the list to write (root folder on its first line)")
    p.add_argument("--rejects", help="TSV of entries left out (symlink loops, unreadable folders), with the reason")

    p = add_command(
        sub, "extract-images", "one slice of an image list -> one image-table part of centre crops", _extract_images
    )
    p.add_argument("inputs", help="the list written by list-images")
    p.add_argument("table_dir", help=f"{TABLE_DIR} to write")
    add_settings(p, ExtractSettings, "extract")

    p = add_command(
        sub, "table-summary", "count a dataset's image table and its rejects; stop if it holds no image", _table_summary
    )
    p.add_argument("table_dir", help=f"the {TABLE_DIR}")
    p.add_argument("--parts", type=positive, required=True, help="number of parts of the table")
    p.add_argument("--out", help="write the summary JSON here")
    add_settings(p, SummarySettings)
