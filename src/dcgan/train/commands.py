"""Stage 5's commands: `decode` (the shards as one array, for training from memory) and `train` (one
process, or each process of a torchrun group)."""

from __future__ import annotations

import argparse

from dcgan.commands import Threads, add_command, add_settings, positive, settings_from
from dcgan.fid.settings import ScoreSettings
from dcgan.train.settings import ModelSettings, TrainSettings


def _train(args: argparse.Namespace) -> None:
    from dcgan.train.loop import train

    meta = train(
        args.shards,
        args.out,
        settings_from(ModelSettings, args),
        settings_from(TrainSettings, args),
        threads=args.threads,
        reference=args.reference,
        fid_weights=args.fid_weights,
        scoring=settings_from(ScoreSettings, args),
        decoded=args.decoded,
    )
    if meta is not None:  # rank 0
        print(f"{args.out}: {meta['steps']} steps on {meta['processes']} x {meta['device']} in {meta['seconds']:.0f} s")


def _decode(args: argparse.Namespace) -> None:
    from dcgan.train.decoded import write_decoded

    made = write_decoded(args.shards, args.out, args.size, workers=args.threads)
    print(f"{args.out}: {made['images']} images decoded at {args.size}x{args.size}, {made['rejects']} rejects")


def add_train_commands(sub) -> None:
    p = add_command(sub, "decode", "a shard folder decoded once into one array, for training from memory", _decode)
    p.add_argument("shards", help="shard folder (with its index.json)")
    p.add_argument("--out", required=True, help="folder for images-S.npy, keys-S.txt, rejects-S.tsv, decoded-S.json")
    p.add_argument("--size", type=positive, required=True, help="the training resolution S")
    add_settings(p, Threads)

    p = add_command(sub, "train", "train DCGAN on a shard folder (resumes from its checkpoints)", _train)
    p.add_argument("shards", help="shard folder (or brace pattern of .tar files)")
    p.add_argument("--out", required=True, help="training folder: model.pt, samples.png, metrics.csv, checkpoints/")
    p.add_argument("--reference", help="the dataset's reference.npz (fid-reference): track FID while training")
    p.add_argument("--fid-weights", help="the TF-Inception weights (fid-weights), with --reference")
    p.add_argument("--decoded", help="the shards' decoded set (`dcgan decode`), read when training from memory")
    add_settings(p, Threads)
    add_settings(p, ModelSettings, "train")
    add_settings(p, TrainSettings, "train")
    add_settings(p, ScoreSettings, "evaluate")  # the tracked KID, measured as evaluation measures it
