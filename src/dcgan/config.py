"""Check a workflow config against the JSON schema, with one message per problem naming its key."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import jsonschema
import yaml

# The workflow's config schema (workflow/schemas/config.schema.yaml), shipped in the package as a link to
# it: it also gives the `dcgan` options that are settings their help lines.
SCHEMA = Path(__file__).with_name("config.schema.yaml")


def load_schema(path: str | Path = SCHEMA) -> dict:
    return yaml.safe_load(Path(path).read_text())


@functools.cache
def _workflow_schema() -> dict:
    """SCHEMA, parsed once per process (the CLI reads it for every stage's options)."""
    return load_schema(SCHEMA)


def _node(path: str) -> dict:
    """The schema of a config section or setting ('train', 'dedup.autoencoder', 'train.data', ...)."""
    node = _workflow_schema()
    for key in path.split("."):
        node = node["properties"][key]
    return node


def setting_descriptions(section: str) -> dict[str, str]:
    """The schema's description of each key of a config section."""
    return {key: spec.get("description", "") for key, spec in _node(section)["properties"].items()}


def setting_choices(section: str) -> dict[str, tuple]:
    """The schema's enum of each key of a config section that has one."""
    return {key: tuple(spec["enum"]) for key, spec in _node(section)["properties"].items() if "enum" in spec}


def choices(setting: str) -> tuple:
    """The values the schema allows for a setting ('train.data', 'dedup.method', ...): its enum."""
    return tuple(_node(setting)["enum"])


def _where(error: jsonschema.ValidationError) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "(top level)"


def config_errors(config: dict, schema: dict) -> list[str]:
    """Schema violations and settings naming what does not exist, as 'key.path: message', sorted; empty
    when the config is valid."""
    validator = jsonschema.Draft202012Validator(schema)
    messages = set()
    for error in validator.iter_errors(config):
        # For if/then and anyOf failures the useful message is in the innermost errors.
        leaves = [e for e in error.context if not e.context] if error.context else [error]
        for leaf in leaves:
            messages.add(f"{_where(leaf)}: {leaf.message}")
    messages.update(_train_override_errors(config, schema))
    messages.update(_train_size_errors(config))
    for section, key in (("evaluate", "features_from"), ("forget", "dataset")):
        name = config.get(section, {}).get(key, "")
        if name and isinstance(config.get("datasets"), dict) and name not in config["datasets"]:
            messages.add(
                f"{section}.{key}: {name!r} is not one of the datasets ({', '.join(sorted(config['datasets']))})"
            )
    return sorted(messages)


JOB_RESOURCES = ("threads", "processes")  # train settings a dataset cannot override: the rule's resources


def _train_override_errors(config: dict, schema: dict) -> set[str]:
    """A dataset's `train` overrides, checked as the train settings they make with the global ones."""
    train_schema = schema["properties"]["train"]
    messages = set()
    datasets = config.get("datasets")
    for name, dataset in datasets.items() if isinstance(datasets, dict) else ():
        override = dataset.get("train") if isinstance(dataset, dict) else None
        if not isinstance(override, dict):
            continue
        for key in override:
            if key in JOB_RESOURCES or key not in train_schema["properties"]:
                messages.add(f"datasets.{name}.train.{key}: not a setting a dataset can override")
        merged = {**config.get("train", {}), **{k: v for k, v in override.items() if k not in JOB_RESOURCES}}
        for error in jsonschema.Draft202012Validator(train_schema).iter_errors(merged):
            if error.absolute_path and error.absolute_path[0] in override:
                messages.add(f"datasets.{name}.train.{_where(error)}: {error.message}")
    return messages


def _train_size_errors(config: dict) -> set[str]:
    """A training resolution above the image table's (images are only ever downscaled on load)."""
    size = config.get("image_size", 64)
    messages = set()
    datasets = config.get("datasets")
    for name, dataset in datasets.items() if isinstance(datasets, dict) else ():
        override = dataset.get("train") if isinstance(dataset, dict) else None
        if isinstance(override, dict) and "image_size" in override:
            key, wanted = f"datasets.{name}.train.image_size", override["image_size"]
        else:
            key, wanted = "train.image_size", (config.get("train") or {}).get("image_size")
        if isinstance(wanted, int) and isinstance(size, int) and wanted > size:
            messages.add(
                f"{key}: {wanted} is larger than image_size ({size}), the size the images are "
                "stored at; raise image_size or lower this"
            )
    return messages


def train_settings(config: dict, dataset: str) -> dict:
    """The train settings of one dataset: the global ones with the dataset's overrides."""
    return {**config["train"], **config["datasets"][dataset].get("train", {})}


def input_problems(config: dict, made_by_workflow: set[str]) -> list[str]:
    """The config's input paths that are missing or of the wrong kind (an LMDB that is no LMDB, an image
    file where a folder or list is expected), one line each naming the key; paths a rule makes (the
    demo data) are not checked."""
    from dcgan.errors import UserError
    from dcgan.sources.listing import source_problem
    from dcgan.sources.lsun import open_lmdb

    messages = []
    for name, dataset in config.get("datasets", {}).items():
        path = dataset.get("lmdb") or dataset.get("images")
        if not path or path in made_by_workflow:
            continue
        key = f"datasets.{name}.{'lmdb' if dataset.get('lmdb') else 'images'}"
        if dataset.get("lmdb"):
            try:
                open_lmdb(path).close()
            except UserError as e:
                messages.append(f"{key}: {e}")
        elif problem := source_problem(path):
            messages.append(f"{key}: {problem}")
    for section, key in (
        ("evaluate", "cifar10"),
        ("evaluate", "svhn_train"),
        ("evaluate", "svhn_test"),
        ("forget", "boxes"),
        ("faces", "yunet_model"),
    ):
        path = config.get(section, {}).get(key)
        if path and not Path(path).exists():
            messages.append(f"{section}.{key}: no such file or folder: {path}")
    return messages


def schema_markdown(schema: dict) -> str:
    """The config reference (config/README.md): every key of the schema with its type, default and
    description, a table per section."""
    lines = [
        "# Configuration keys",
        "",
        "Generated from `workflow/schemas/config.schema.yaml` by `python -m dcgan config-docs > config/README.md`",
        "(a test keeps the two the same). `config/config.yaml` is the embedded demo, `config/paper.yaml` the",
        "paper's scale: copy `config/paper.yaml` for your own data (a config without a `demo:` section never",
        "builds the demo data). Missing keys take the defaults below.",
        "",
    ]
    top = [(key, spec) for key, spec in schema["properties"].items() if "properties" not in spec and key != "datasets"]
    sections = [("(top level)", "", top)]
    dataset = schema["properties"]["datasets"]
    sections.append(
        ("datasets.NAME", dataset["description"], list(dataset["additionalProperties"]["properties"].items()))
    )
    for key, spec in schema["properties"].items():
        if "properties" in spec:
            nested = [(k, s) for k, s in spec["properties"].items() if "properties" not in s]
            sections.append((key, spec.get("description", ""), nested))
            sections += [
                (f"{key}.{k}", s.get("description", ""), list(s["properties"].items()))
                for k, s in spec["properties"].items()
                if "properties" in s
            ]
    for title, description, keys in sections:
        lines += [f"## `{title}`", ""] + ([description.strip(), ""] if description else [])
        lines += ["| key | type | default | description |", "| --- | --- | --- | --- |"]
        for key, spec in keys:
            kind = " or ".join(f"`{v}`" for v in spec["enum"]) if "enum" in spec else spec.get("type", "")
            default = f"`{json.dumps(spec['default'])}`" if "default" in spec else "required" if key == "source" else ""
            text = spec.get("description", "").replace("|", "\\|").replace("\n", " ").strip()
            lines.append(f"| `{key}` | {kind} | {default} | {text} |")
        lines.append("")
    return "\n".join(lines)
