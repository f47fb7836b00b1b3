"""Check a workflow config against the JSON schema, with one message per problem naming its key."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import yaml


def load_schema(path: str | Path) -> dict:
    return yaml.safe_load(Path(path).read_text())


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
    for section, key in (("evaluate", "features_from"), ("forget", "dataset")):
        name = config.get(section, {}).get(key, "")
        if name and isinstance(config.get("datasets"), dict) and name not in config["datasets"]:
            messages.add(f"{section}.{key}: {name!r} is not one of the datasets ({', '.join(sorted(config['datasets']))})")
    return sorted(messages)


JOB_RESOURCES = ("threads", "processes")  # train settings a dataset cannot override: the rule's resources


def _train_override_errors(config: dict, schema: dict) -> set[str]:
    """A dataset's `train` overrides, checked as the train settings they make with the global ones."""
    train_schema = schema["properties"]["train"]
    messages = set()
    datasets = config.get("datasets")
    for name, dataset in (datasets.items() if isinstance(datasets, dict) else ()):
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


def train_settings(config: dict, dataset: str) -> dict:
    """The train settings of one dataset: the global ones with the dataset's overrides."""
    return {**config["train"], **config["datasets"][dataset].get("train", {})}


def missing_inputs(config: dict, made_by_workflow: set[str]) -> list[str]:
    """Dataset input paths that neither exist nor are made by a rule (the demo data)."""
    messages = []
    for name, dataset in config.get("datasets", {}).items():
        for key in ("lmdb", "images"):
            path = dataset.get(key)
            if path and path not in made_by_workflow and not Path(path).exists():
                messages.append(f"datasets.{name}.{key}: no such file or folder: {path}")
    for section, key in (("evaluate", "cifar10"), ("evaluate", "svhn_train"), ("evaluate", "svhn_test"), ("forget", "boxes")):
        path = config.get(section, {}).get(key)
        if path and not Path(path).exists():
            messages.append(f"{section}.{key}: no such file or folder: {path}")
    return messages
