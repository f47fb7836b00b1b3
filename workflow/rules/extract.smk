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
    log:
        "logs/{dataset}/extract/part-{part}.log",
    wildcard_constraints:
        dataset=one_of(datasets("lsun")),
    cache: True
    conda:
        "../../envs/extract.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
    params:
        lmdb=lambda w: dataset_config(w)["lmdb"],
        stamp=lambda w: raw_stamp(dataset_config(w)["lmdb"]),
        table_dir=folder_of("output.images"),
        options=lambda w: part_options(
            w,
            min_size=config["extract"]["min_size"],
            reduced_decode=config["extract"]["reduced_decode"],
            max_pixels=config["max_pixels"],
        ),
    shell:
        "python -m dcgan extract {params.lmdb:q} {params.table_dir:q} {params.options} 2> {log:q}"


rule list_images:
    input:
        lambda w: raw_input(dataset_config(w)["images"]),
    output:
        listing="results/{dataset}/inputs.txt",
        rejects="results/{dataset}/inputs.rejects.tsv",
    log:
        "logs/{dataset}/list_images.log",
    wildcard_constraints:
        dataset=one_of(datasets("images") + datasets("faces")),
    localrule: True
    conda:
        "../../envs/extract.yaml"
    params:
        images=lambda w: dataset_config(w)["images"],
        stamp=lambda w: raw_stamp(dataset_config(w)["images"]),
    shell:
        "python -m dcgan list-images {params.images:q} {output.listing:q} --rejects {output.rejects:q}" " 2> {log:q}"


rule extract_images:
    input:
        "results/{dataset}/inputs.txt",
    output:
        images="results/{dataset}/images/part-{part}.npy",
        rows="results/{dataset}/images/part-{part}.tsv",
        rejects="results/{dataset}/images/part-{part}.rejects.tsv",
        provenance="results/{dataset}/images/part-{part}.json",
    log:
        "logs/{dataset}/extract_images/part-{part}.log",
    wildcard_constraints:
        dataset=one_of(datasets("images")),
    conda:
        "../../envs/extract.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
    params:
        table_dir=folder_of("output.images"),
        options=lambda w: part_options(
            w,
            min_size=config["extract"]["min_size"],
            reduced_decode=config["extract"]["reduced_decode"],
            max_pixels=config["max_pixels"],
        ),
    shell:
        "python -m dcgan extract-images {input:q} {params.table_dir:q} {params.options} 2> {log:q}"


rule image_table:
    input:
        provenance=lambda w: table_parts(w.dataset, ".json"),
        rejects=lambda w: table_parts(w.dataset, ".rejects.tsv"),
    output:
        "results/{dataset}/images/table.json",
    log:
        "logs/{dataset}/image_table.log",
    localrule: True
    conda:
        "../../envs/extract.yaml"
    params:
        table_dir=folder_of("input.provenance"),
        parts=lambda w: config["datasets"][w.dataset]["partitions"],
        source=lambda w: dataset_config(w).get("lmdb") or dataset_config(w)["images"],
    shell:
        "python -m dcgan table-summary {params.table_dir:q} --parts {params.parts} --dataset {wildcards.dataset}"
        " --source {params.source:q} --out {output:q} 2> {log:q}"
