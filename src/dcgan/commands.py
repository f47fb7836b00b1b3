"""Building blocks of the `dcgan` command line, shared by every stage's `commands.py`.

A command's defaulted options come from settings dataclasses only (`add_settings`): the stage's own
settings, whose defaults are the config schema's, and each command's job options (`option` fields:
part, threads, ...). argparse states no default of its own, and the help line of a setting is the
schema's description of its config key.
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

TABLE_DIR = "image-table folder (part-XXXX.npy, .tsv, .rejects.tsv, .json)"
THREADS = "CPU threads this job may use"


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def option(default: Any, help: str | None = None, *, type: Callable | None = None, choices=None) -> Any:
    """A settings field that is a command-line option: its default, and its help line, parser and
    choices where the schema does not give them."""
    return dataclasses.field(default=default, metadata={"help": help, "type": type, "choices": choices})


@dataclass(frozen=True)
class Threads:
    """A job's CPU threads: the rule's `threads` (shared by the processes of a torchrun group)."""

    threads: int = option(1, THREADS, type=positive)


class HelpFormatter(argparse.HelpFormatter):
    """Each option's help line ends with its default (none for required options or those without one)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        help_text = action.help or ""
        if action.required or action.default in (None, argparse.SUPPRESS) or "%(default)" in help_text:
            return help_text
        if not action.option_strings and action.nargs != "?":
            return help_text
        return f"{help_text} (default: %(default)s)"


def add_command(sub, name: str, help_text: str, run: Callable[[argparse.Namespace], None]) -> argparse.ArgumentParser:
    """A `dcgan <name>` (or `dcgan <group> <name>`) command that calls `run` with the parsed options."""
    parser = sub.add_parser(name, help=help_text, description=help_text, formatter_class=HelpFormatter)
    parser.set_defaults(run=run)
    return parser


# help lines of settings that are top-level config keys or no config key
_COMMON_HELP = {
    "seed": "seed of every random choice (the config's seed)",
    "mtcnn_weights": "MTCNN's weights, the face detector's (fetched by `dcgan mtcnn-weights`)",
    "image_size": "side of the square crops written to the table",
}


def add_settings(parser: argparse.ArgumentParser, settings: type, section: str = "") -> None:
    """One --option per field of the dataclass `settings`, with its default (booleans: --x / --no-x), and
    the description and the allowed values (enum) of the same key in the schema's `section` (a field's
    own help and choices first). Each option records the dataclass and the section it came from
    (`action.settings`), for the test that checks the defaults against the schema."""
    from dcgan.config import setting_choices, setting_descriptions

    described = {**_COMMON_HELP, **(setting_descriptions(section) if section else {})}
    allowed_in = setting_choices(section) if section else {}
    for field in dataclasses.fields(settings):
        meta = field.metadata
        flag = f"--{field.name.replace('_', '-')}"
        help_text = meta.get("help") or described.get(field.name) or f"config key {section}.{field.name}"
        keywords = {"default": field.default, "help": help_text.replace("%", "%%")}  # argparse formats help
        if isinstance(field.default, bool):
            action = parser.add_argument(flag, action=argparse.BooleanOptionalAction, **keywords)
        else:
            parser_of = meta.get("type") or type(field.default)
            allowed = meta.get("choices") or allowed_in.get(field.name)
            action = parser.add_argument(flag, type=parser_of, choices=allowed, **keywords)
        action.settings = (settings, section)


def settings_from(settings: type, args: argparse.Namespace):
    """The dataclass `settings` from the parsed options that add_settings made."""
    return settings(**{f.name: getattr(args, f.name) for f in dataclasses.fields(settings)})
