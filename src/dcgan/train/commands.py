"""Stage 5's command: `train` (one process, or each process of a torchrun group)."""

from __future__ import annotations

import argparse

from dcgan.commands import Threads, add_command, add_settings, settings_from
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
    )
    if meta is not None:  # rank 0
        print(f"{args.out}: {meta['steps']} steps on {meta['processes']} x {meta['device']} in {meta['seconds']:.0f} s")


def add_train_commands(sub) -> None:
    p = add_command(sub, "train", "train DCGAN on a shard folder (resumes from its checkpoints)", _train)
    p.add_argument("shards", help="shard folder (or brace pattern of .tar files)")
    p.add_argument("--out", required=True, help="training folder: model.pt, samples.png, metrics.csv, checkpoints/")
    p.add_argument("--reference", help="the dataset's reference.npz (fid-reference): track FID while training")
    p.add_argument("--fid-weights", help="the TF-Inception weights (fid-weights), with --reference")
    add_settings(p, Threads)
    add_settings(p, ModelSettings, "train")
    add_settings(p, TrainSettings, "train")
