# Helpers shared by the rule files: datasets by source, parts, and the stage outputs.

import shlex

from dcgan.config import train_settings
from dcgan.files import source_stamp


FID_WEIGHTS = "resources/fid/tf_inception_fid.pt"  # TF-Inception (rule fid_weights): tracked FID and evaluation


wildcard_constraints:
    dataset=r"[A-Za-z0-9_-]+",
    part=r"\d{4}",


def datasets(source):
    """Names of the configured datasets that come from `source` ('lsun', 'images' or 'faces')."""
    return sorted(name for name, d in config["datasets"].items() if d["source"] == source)


def one_of(names):
    """A wildcard pattern matching exactly these names (and nothing when there are none)."""
    return "|".join(names) if names else r"(?!x)x"


def dataset_config(wildcards):
    return config["datasets"][wildcards.dataset]


def raw_input(path):
    """A dataset's raw data (LMDB, image folder or list) as rule input. The demo's is made by a job, so
    it is a dependency. A user's is no input at all: Snakemake's --cache checksums every source input
    as a file (a folder fails; a 43 GB LMDB would be read again for each job). Its state enters the
    rule through `raw_stamp` in params instead, which also reruns the rule when the data changes."""
    return [path] if path in demo_made_paths() else []


def raw_stamp(path):
    """Fingerprint of a user's raw data (an LMDB folder's data.mdb, a file, or a folder's tree)."""
    if path in demo_made_paths():
        return ""
    data_file = os.path.join(path, "data.mdb")
    return source_stamp(data_file if os.path.isfile(data_file) else path)


def part_ids(dataset):
    return [f"{i:04d}" for i in range(config["datasets"][dataset]["partitions"])]


def table_parts(dataset, suffix):
    """Every part file of a dataset's image table with this suffix ('.npy', '.tsv', ...)."""
    return [f"results/{dataset}/images/part-{p}{suffix}" for p in part_ids(dataset)]


def table_summary(dataset):
    return f"results/{dataset}/images/table.json"


def cli_options(settings):
    """Settings as `dcgan` options (--key value, booleans as --key / --no-key), sorted by key.

    Rules pass their settings as one such string: Snakemake compares a job's params as a set of values
    without names, so two separate numeric params could trade values unnoticed (radius 0 -> 2 beside
    views 2); one string with the names in it changes whenever any setting does.
    """
    options = []
    for key, value in sorted(settings.items()):
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            options.append(flag if value else "--no-" + key.replace("_", "-"))
        else:
            options.append(f"{flag} {shlex.quote(str(value))}")
    return " ".join(options)
