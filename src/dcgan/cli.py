"""`dcgan <stage> ...`: the one command line behind every workflow rule."""

from __future__ import annotations

import argparse
import sys

from dcgan.commands import HelpFormatter, add_command
from dcgan.dedup.commands import add_dedup_commands
from dcgan.demo.commands import add_demo_commands
from dcgan.errors import UserError, one_line
from dcgan.evaluation.commands import add_evaluate_commands
from dcgan.faces.commands import add_faces_commands
from dcgan.fid.commands import add_fid_commands
from dcgan.files import NO_SPACE
from dcgan.shards.commands import add_shards_commands
from dcgan.sources.commands import add_extract_commands
from dcgan.train.commands import add_train_commands


def _text_page(args: argparse.Namespace) -> None:
    from dcgan.report import text_page

    text_page(args.source, args.out)


def _report(args: argparse.Namespace) -> None:
    import json

    from dcgan.report import write_report

    write_report(args.out, snakefile=args.snakefile, config=json.loads(args.config_json))
    print(f"{args.out}: Snakemake report of this run")


def _config_docs(args: argparse.Namespace) -> None:
    from dcgan.config import load_schema, schema_markdown

    print(schema_markdown(load_schema()), end="")


def add_report_commands(sub) -> None:
    p = add_command(
        sub, "text-page", "a text file (e.g. docs/benchmarks.md) as an HTML page for the report", _text_page
    )
    p.add_argument("source", help="the text file")
    p.add_argument("out", help="the HTML page to write")

    p = add_command(sub, "report", "Snakemake's HTML report of the run in the current directory", _report)
    p.add_argument("out", help="report.html")
    p.add_argument("--snakefile", required=True, help="the Snakefile of the run")
    p.add_argument("--config-json", required=True, help="the run's config as JSON")

    add_command(
        sub, "config-docs", "config/README.md: every config key with its type, default and description", _config_docs
    )


def build_parser() -> argparse.ArgumentParser:
    """Every stage's commands, in the workflow's order (each stage's options live beside its handlers, in
    its package's commands.py)."""
    parser = argparse.ArgumentParser(prog="dcgan", description=__doc__, formatter_class=HelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="<stage>")
    add_demo_commands(sub)  # demo-data
    add_extract_commands(sub)  # 1. extract, list-images, extract-images, table-summary
    add_dedup_commands(sub)  # 2. dedup train | hash | filter
    add_faces_commands(sub)  # 3. mtcnn-weights, yunet-model, detect-faces, face-report
    add_shards_commands(sub)  # 4. shards, verify-shards
    add_fid_commands(sub)  # 5. fid-weights, fid-reference (what training tracks and evaluation scores against)
    add_train_commands(sub)  # 5. decode, train
    add_evaluate_commands(sub)  # 6. evaluate metrics|figures|svm|table, arithmetic, samples, find-boxes, forget
    add_report_commands(sub)  # text-page, report, config-docs
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    stage = " ".join(filter(None, [args.command, getattr(args, "step", None)]))
    try:
        args.run(args)
    except UserError as e:
        print(f"dcgan {stage}: error: {one_line(e)}", file=sys.stderr)
        return 2
    except OSError as e:
        if e.errno not in NO_SPACE:
            raise
        print(f"dcgan {stage}: error: cannot write {e.filename or 'its output'}: {e.strerror}", file=sys.stderr)
        return 2
    return 0
