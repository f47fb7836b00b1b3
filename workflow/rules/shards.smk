# Stage 4: each dataset's kept images -> shuffled, byte-identical WebDataset shards + wids index.


rule shards:
    input:
        images=lambda w: table_parts(w.dataset, ".npy"),
        rows=lambda w: table_parts(w.dataset, ".tsv"),
        duplicates="results/{dataset}/dedup/duplicates.tsv",
    output:
        directory("results/{dataset}/shards"),
    log:
        "logs/{dataset}/shards.log",
    conda:
        "../../envs/shards.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
    params:
        table_dir=folder_of("input.images"),
        options=lambda w: cli_options(
            {
                "parts": config["datasets"][w.dataset]["partitions"],
                "seed": config["seed"],
                **config["shards"],
            }
        ),
    shell:
        "python -m dcgan shards {params.table_dir:q} --duplicates {input.duplicates:q} --out {output:q}"
        " --dataset {wildcards.dataset} {params.options} 2> {log:q}"
