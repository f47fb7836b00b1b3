# Helpers shared by the stage files (datasets by source, parts, stage outputs, options for the CLI).
# Every function of the workflow lives here; the stage files hold rules only.

import dataclasses
import json
import shlex

from dcgan.config import train_settings
from dcgan.demo import DEMO_FILES
from dcgan.evaluation.settings import FigureSettings, MetricsSettings, SvmSettings  # one dataclass per job
from dcgan.faces.settings import MTCNN_WEIGHTS, YUNET_MODEL  # fetched by the mtcnn_weights and yunet_model rules
from dcgan.fid import FID_WEIGHTS  # TF-Inception, fetched by the fid_weights rule: tracked FID and evaluation
from dcgan.fid.settings import ReferenceSettings, ScoreSettings
from dcgan.files import source_stamp

PAPER_SVM_SETS = ("cifar10", "svhn_train", "svhn_test")
# the weights that evaluation, Fig. 5 and Fig. 6 judge: best (lowest tracked FID) or final
EVALUATED_MODEL = {
    "best": "results/{dataset}/train/best.pt",
    "final": "results/{dataset}/train/model.pt",
}[config["evaluate"]["checkpoint"]]


wildcard_constraints:
    dataset=r"[A-Za-z0-9_-]+",
    part=r"\d{4}",


# ---- datasets and their raw data


def datasets(source):
    """Names of the configured datasets that come from `source` ('lsun', 'images' or 'faces')."""
    return sorted(name for name, d in config["datasets"].items() if d["source"] == source)


def all_datasets():
    return datasets("lsun") + datasets("images") + datasets("faces")


def one_of(names):
    """A wildcard pattern matching exactly these names (and nothing when there are none)."""
    return "|".join(names) if names else r"(?!x)x"


def dataset_config(wildcards):
    return config["datasets"][wildcards.dataset]


def demo_made_paths():
    """What the demo_data job makes, when some dataset reads it. A config without a `demo` section
    (or whose datasets are all elsewhere) never builds the demo data."""
    if "demo" not in config:
        return set()
    made = {f"{config['demo']['out']}/{name}" for name in DEMO_FILES}
    used = {d.get("lmdb") or d.get("images") for d in config["datasets"].values()}
    return made if used & made else set()


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


def folder_of(name):
    """A params function: the folder of the named output or input ('output.images'; of a list's first
    file), so no path prefix is written twice."""
    kind, key = name.split(".")

    def folder(wildcards, input, output):
        files = (input if kind == "input" else output)[key]
        return os.path.dirname(files if isinstance(files, str) else files[0])

    return folder


def cli_options(settings):
    """Settings as `dcgan` options (--key value, booleans as --key / --no-key), sorted by key.

    Rules pass their settings as one such string: Snakemake compares a job's params as a set of values
    without names, so two separate numeric params could trade values unnoticed (radius 0 -> 2 beside
    views 2); one string with the names in it changes whenever any setting does.
    """
    options = []
    for key, value in sorted(settings.items()):
        name = key.replace("_", "-")
        flag = f"--{name}"
        if isinstance(value, bool):
            options.append(flag if value else f"--no-{name}")
        else:
            options.append(f"{flag} {shlex.quote(str(value))}")
    return " ".join(options)


def part_options(wildcards, **settings):
    """A part job's options: which part of how many, the dataset's image cap and these settings."""
    dataset = dataset_config(wildcards)
    return cli_options(
        {
            "part": int(wildcards.part),
            "parts": dataset["partitions"],
            "max_images": dataset["max_images"],
            "image_size": config["image_size"],
            **settings,
        }
    )


# ---- faces


def yunet_model():
    """The YuNet model detect_faces loads: the user's file, else the one the yunet_model rule fetches."""
    return config["faces"]["yunet_model"] or YUNET_MODEL


def face_weights(wildcards):
    detector = config["faces"]["detector"]
    return ([MTCNN_WEIGHTS] if detector in ("yunet", "mtcnn", "verified") else []) + (
        [yunet_model()] if detector == "yunet" else []
    )


def face_outputs(dataset):
    return [f"results/{dataset}/detections.tsv"] + [
        f"results/{dataset}/faces/{name}.png" for name in ("crops", "detections", "quality")
    ]


# ---- dedup


def dedup_model(wildcards):
    """The trained autoencoder, when the method needs one."""
    if config["dedup"]["method"] == "autoencoder":
        return f"results/{wildcards.dataset}/dedup/autoencoder.pt"
    return []


def dedup_hashes(wildcards):
    return [f"results/{wildcards.dataset}/dedup/hashes/part-{p}.npy" for p in part_ids(wildcards.dataset)]


def dedup_outputs(dataset):
    return [
        f"results/{dataset}/dedup/{name}" for name in ("duplicates.tsv", "stats.json", "gallery.png", "largest.png")
    ]


# ---- training


def train_options(wildcards):
    """The dataset's train settings (global ones with its overrides) as `dcgan train` options."""
    settings = {k: v for k, v in train_settings(config, wildcards.dataset).items() if k != "threads"}
    settings["image_size"] = training_size(wildcards)
    scoring = evaluate_settings(ScoreSettings)  # the tracked KID, measured as evaluation measures it
    return cli_options({**settings, **scoring, "seed": config["seed"]})


def training_size(wildcards):
    """The dataset's training resolution (train.image_size, else the table's image_size)."""
    return train_settings(config, wildcards.dataset)["image_size"] or config["image_size"]


def decoded_input(wildcards):
    """The decoded set the train job reads from memory; none when it trains from the shard loader."""
    if train_settings(config, wildcards.dataset)["data"] == "shards":
        return []
    return f"results/{wildcards.dataset}/decoded"


def train_launcher(wildcards, threads):
    """`python` for one process; torchrun for several, each with its share of the job's threads."""
    processes = config["train"]["processes"]
    if processes == 1:
        return "python"
    return f"OMP_NUM_THREADS={max(1, threads // processes)} torchrun --standalone --nproc-per-node {processes}"


# ---- evaluation and the report


def evaluate_settings(*jobs):
    """The `evaluate` keys that these settings dataclasses hold (a job's dataclass is the one home of
    which keys it takes), with their configured values."""
    keys = {field.name for job in jobs for field in dataclasses.fields(job)} - {"seed"}
    return {key: config["evaluate"][key] for key in keys}


def metrics_options(wildcards):
    settings = evaluate_settings(MetricsSettings, ScoreSettings)
    return cli_options({**settings, "seed": config["seed"], "dedup_method": config["dedup"]["method"]})


def figure_options(wildcards):
    return cli_options({**evaluate_settings(FigureSettings), "seed": config["seed"]})


def svm_options(wildcards):
    """CIFAR-10 and SVHN (Table 1 and 2) only for the dataset whose D provides their features
    (`features_from`; every dataset when it is empty)."""
    settings = evaluate_settings(SvmSettings)
    if config["evaluate"]["features_from"] not in ("", wildcards.dataset):
        settings.update({k: "" for k in PAPER_SVM_SETS})
    return cli_options({**settings, "seed": config["seed"]})


def reference_options(wildcards):
    """FID reference settings: the dataset's training resolution."""
    return cli_options({**evaluate_settings(ReferenceSettings), "size": training_size(wildcards)})


def evaluation_figure(name, label):
    return report(
        f"results/{{dataset}}/eval/{name}",
        category="Evaluation",
        subcategory="{dataset}",
        labels={"dataset": "{dataset}", "figure": label},
    )


def forgetting_datasets():
    """The dataset whose G forgets (Fig. 6), as a list: empty when `forget.dataset` is not set."""
    return [config["forget"]["dataset"]] if config["forget"]["dataset"] else []


def forget_boxes(wildcards):
    """The boxes drawn by hand (`forget.boxes`), or else the ones the cascade finds."""
    return config["forget"]["boxes"] or f"results/{wildcards.dataset}/eval/forget_boxes.tsv"


def results_targets():
    """Every output of the run but the report (the report is made from them)."""
    names = all_datasets()
    targets = [table_summary(d) for d in names] + [path for d in datasets("faces") for path in face_outputs(d)]
    targets += [path for d in names for path in dedup_outputs(d)]
    evaluation = ("eval/scores.tsv", "eval/figures.json")  # scores.tsv needs the metrics and SVM jobs
    targets += [f"results/{d}/{path}" for d in names for path in ("shards", "train/samples.png", *evaluation)]
    targets += [f"results/{d}/eval/forget.png" for d in forgetting_datasets()]
    return targets + sorted(demo_made_paths()) + ["results/report/benchmarks.html"]


def config_json():
    return json.dumps(config, sort_keys=True)
