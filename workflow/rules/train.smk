# Stage 5: DCGAN training from each dataset's shards; resumes from results/{dataset}/train/checkpoints/.
# FID is tracked against the dataset's reference (rule fid_reference) and the best weights kept (best.pt).
# train.processes > 1 runs DDP under torchrun on this job's node: one process per GPU (gloo on CPUs).


def train_options(wildcards):
    """The dataset's train settings (global ones with its overrides) as `dcgan train` options."""
    settings = {k: v for k, v in train_settings(config, wildcards.dataset).items() if k != "threads"}
    settings["image_size"] = settings["image_size"] or config["image_size"]
    return cli_options({**settings, "seed": config["seed"]})


def train_launcher(wildcards, threads):
    """`python` for one process; torchrun for several, each with its share of the job's threads."""
    processes = config["train"]["processes"]
    if processes == 1:
        return "python"
    return f"OMP_NUM_THREADS={max(1, threads // processes)} torchrun --standalone --nproc-per-node {processes}"


rule train:
    input:
        shards="results/{dataset}/shards",
        reference="results/{dataset}/eval/reference.npz",
        weights=FID_WEIGHTS,
    output:
        model="results/{dataset}/train/model.pt",
        best="results/{dataset}/train/best.pt",
        memorisation=report("results/{dataset}/train/memorisation.png", category="Training", subcategory="{dataset}",
                            labels={"dataset": "{dataset}", "figure": "memorisation by epoch"}),
        samples=report("results/{dataset}/train/samples.png", category="Training", subcategory="{dataset}",
                       labels={"dataset": "{dataset}", "figure": "fixed-noise samples"}),
        metrics="results/{dataset}/train/metrics.csv",
        record="results/{dataset}/train/train.json",
    params:
        out="results/{dataset}/train",
        options=train_options,
        launcher=train_launcher,
    log:
        "logs/{dataset}/train.log",
    threads: config["train"]["threads"]
    resources:
        gpu=config["train"]["processes"],
        mem_mb=8000,
        runtime=24 * 60,
    conda:
        "../../envs/train.yaml"
    shell:
        "{params.launcher} -m dcgan train {input.shards:q} --out {params.out:q} --threads {threads}"
        " --reference {input.reference:q} --fid-weights {input.weights:q} {params.options} 2> {log:q}"
