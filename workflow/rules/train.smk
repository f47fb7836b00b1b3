# Stage 5: DCGAN training from each dataset's shards; resumes from results/{dataset}/train/checkpoints/.


def train_options():
    settings = {k: v for k, v in config["train"].items() if k != "threads"}
    settings["image_size"] = settings["image_size"] or config["image_size"]
    return cli_options({**settings, "seed": config["seed"]})


rule train:
    input:
        "results/{dataset}/shards",
    output:
        model="results/{dataset}/train/model.pt",
        samples=report("results/{dataset}/train/samples.png", category="Training", subcategory="{dataset}",
                       labels={"dataset": "{dataset}", "figure": "fixed-noise samples"}),
        metrics="results/{dataset}/train/metrics.csv",
        record="results/{dataset}/train/train.json",
    params:
        out="results/{dataset}/train",
        options=train_options(),
    log:
        "logs/{dataset}/train.log",
    threads: config["train"]["threads"]
    resources:
        gpu=1,
        mem_mb=8000,
        runtime=24 * 60,
    conda:
        "../../envs/train.yaml"
    shell:
        "python -m dcgan train {input:q} --out {params.out:q} --threads {threads}"
        " {params.options} 2> {log:q}"
