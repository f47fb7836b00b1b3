# Stage 1: raw images -> image table: LSUN-format LMDBs one job per key range, image folders (and the
# web images of the face stage) listed once, then one job per slice of the list.


rule extract:
    input:
        lambda w: raw_input(dataset_config(w)["lmdb"]),
    output:
        images="results/{dataset}/images/part-{part}.npy",
        rows="results/{dataset}/images/part-{part}.tsv",
        rejects="results/{dataset}/images/part-{part}.rejects.tsv",
        provenance="results/{dataset}/images/part-{part}.json",
    wildcard_constraints:
        dataset=one_of(datasets("lsun")),
    params:
        lmdb=lambda w: dataset_config(w)["lmdb"],
        stamp=lambda w: raw_stamp(dataset_config(w)["lmdb"]),
        table_dir="results/{dataset}/images",
        options=lambda w: cli_options({"part": int(w.part), "parts": dataset_config(w)["partitions"],
                                       "max_images": dataset_config(w)["max_images"], "image_size": config["image_size"],
                                       "min_size": config["extract"]["min_size"]}),
        decode_flag="" if config["extract"]["reduced_decode"] else "--no-reduced-decode",
    log:
        "logs/{dataset}/extract/part-{part}.log",
    threads: 1
    cache: True
    resources:
        mem_mb=4000,
        runtime=120,
    conda:
        "../../envs/extract.yaml"
    shell:
        "python -m dcgan extract {params.lmdb:q} {params.table_dir:q} {params.options} {params.decode_flag} 2> {log:q}"


rule list_images:
    input:
        lambda w: raw_input(dataset_config(w)["images"]),
    output:
        "results/{dataset}/inputs.txt",
    wildcard_constraints:
        dataset=one_of(datasets("images") + datasets("faces")),
    params:
        images=lambda w: dataset_config(w)["images"],
        stamp=lambda w: raw_stamp(dataset_config(w)["images"]),
    localrule: True
    shell:
        "python -m dcgan list-images {params.images:q} {output:q}"


rule extract_images:
    input:
        "results/{dataset}/inputs.txt",
    output:
        images="results/{dataset}/images/part-{part}.npy",
        rows="results/{dataset}/images/part-{part}.tsv",
        rejects="results/{dataset}/images/part-{part}.rejects.tsv",
        provenance="results/{dataset}/images/part-{part}.json",
    wildcard_constraints:
        dataset=one_of(datasets("images")),
    params:
        table_dir="results/{dataset}/images",
        options=lambda w: cli_options({"part": int(w.part), "parts": dataset_config(w)["partitions"],
                                       "max_images": dataset_config(w)["max_images"], "image_size": config["image_size"],
                                       "min_size": config["extract"]["min_size"],
                                       "reduced_decode": config["extract"]["reduced_decode"]}),
    log:
        "logs/{dataset}/extract_images/part-{part}.log",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
    conda:
        "../../envs/extract.yaml"
    shell:
        "python -m dcgan extract-images {input:q} {params.table_dir:q} {params.options} 2> {log:q}"


rule image_table:
    input:
        provenance=lambda w: table_parts(w.dataset, ".json"),
        rejects=lambda w: table_parts(w.dataset, ".rejects.tsv"),
    output:
        "results/{dataset}/images/table.json",
    params:
        table_dir="results/{dataset}/images",
        parts=lambda w: config["datasets"][w.dataset]["partitions"],
    localrule: True
    shell:
        "python -m dcgan table-summary {params.table_dir:q} --parts {params.parts} --out {output:q}"
