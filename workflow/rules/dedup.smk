# Stage 2: near-duplicate removal. The paper's autoencoder semantic hash (or phash, the baseline):
# dedup_train -> dedup_hash (one job per image-table part) -> dedup_filter.

def dedup_model(wildcards):
    """The trained autoencoder, when the method needs one."""
    if config["dedup"]["method"] == "autoencoder":
        return f"results/{wildcards.dataset}/dedup/autoencoder.pt"
    return []


rule dedup_train:
    input:
        images=lambda w: table_parts(w.dataset, ".npy"),
    output:
        model="results/{dataset}/dedup/autoencoder.pt",
        record="results/{dataset}/dedup/autoencoder.json",
    params:
        table_dir="results/{dataset}/images",
        options=lambda w: cli_options({"parts": config["datasets"][w.dataset]["partitions"], "seed": config["seed"],
                                       **config["dedup"]["autoencoder"]}),
    log:
        "logs/{dataset}/dedup_train.log",
    threads: 1  # a fixed budget (~1 CPU-minute at LSUN scale); one thread keeps the weights reproducible
    cache: True
    resources:
        mem_mb=2000,
        runtime=60,
    conda:
        "../../envs/dedup.yaml"
    shell:
        "python -m dcgan dedup train {params.table_dir:q} --model {output.model:q} --threads {threads}"
        " {params.options} 2> {log:q}"


rule dedup_hash:
    input:
        images="results/{dataset}/images/part-{part}.npy",
        model=dedup_model,
    output:
        "results/{dataset}/dedup/hashes/part-{part}.npy",
    params:
        table_dir="results/{dataset}/images",
        options=lambda w: cli_options({"part": int(w.part), "method": config["dedup"]["method"],
                                       "views": config["dedup"]["views"]}),
        model=lambda w, input: f"--model {input.model}" if input.model else "",
    log:
        "logs/{dataset}/dedup_hash/part-{part}.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    conda:
        "../../envs/dedup.yaml"
    shell:
        "python -m dcgan dedup hash {params.table_dir:q} --out {output:q} {params.options} {params.model}"
        " --threads {threads} 2> {log:q}"


rule dedup_filter:
    input:
        hashes=lambda w: [f"results/{w.dataset}/dedup/hashes/part-{p}.npy" for p in part_ids(w.dataset)],
        rows=lambda w: table_parts(w.dataset, ".tsv"),
    output:
        duplicates="results/{dataset}/dedup/duplicates.tsv",
        stats=report("results/{dataset}/dedup/stats.json", category="Dedup", subcategory="{dataset}",
                     labels={"dataset": "{dataset}", "figure": "counts, settings and timing"}),
        gallery=report("results/{dataset}/dedup/gallery.png", category="Dedup", subcategory="{dataset}",
                       labels={"dataset": "{dataset}", "figure": "a sample of collision groups"}),
        largest=report("results/{dataset}/dedup/largest.png", category="Dedup", subcategory="{dataset}",
                       labels={"dataset": "{dataset}", "figure": "the largest groups"}),
    params:
        table_dir="results/{dataset}/images",
        options=lambda w: cli_options({"parts": config["datasets"][w.dataset]["partitions"], "seed": config["seed"],
                                       **{k: config["dedup"][k] for k in ("method", "radius", "views", "verify")}}),
    log:
        "logs/{dataset}/dedup_filter.log",
    resources:
        mem_mb=8000,
        runtime=60,
    conda:
        "../../envs/dedup.yaml"
    shell:
        "python -m dcgan dedup filter {params.table_dir:q} --hashes results/{wildcards.dataset}/dedup/hashes"
        " --out-dir results/{wildcards.dataset}/dedup {params.options} 2> {log:q}"


def dedup_outputs(dataset):
    return [f"results/{dataset}/dedup/{name}" for name in ("duplicates.tsv", "stats.json", "gallery.png", "largest.png")]
