# Stage 6: evaluation of each trained model, one job per kind of result so that a change reruns only its
# own: metrics (FID/KID, memorisation), figures (samples, walks, arithmetic, losses, D's features), the
# D-feature SVM, and the scores table made of the first and third. The HTML report: report.smk.


rule evaluate_metrics:
    input:
        model=EVALUATED_MODEL,
        reference="results/{dataset}/fid/reference.npz",
        weights=FID_WEIGHTS,
        hashes=dedup_hashes,
        dedup_model=dedup_model,
    output:
        metrics="results/{dataset}/eval/metrics.json",
        memorisation=evaluation_figure("memorisation.png", "sample | nearest by pixels | nearest by Inception"),
        distances=evaluation_figure("distances.png", "nearest-training-image distances"),
    log:
        "logs/{dataset}/evaluate_metrics.log",
    conda:
        "../../envs/train.yaml"
    threads: config["evaluate"]["threads"]
    resources:
        gpu=1,
        mem_mb=16000,
        runtime=240,
    params:
        out=folder_of("output.metrics"),
        hashes=folder_of("input.hashes"),
        dedup_model=lambda w, input: (f"--dedup-model {input.dedup_model}" if input.dedup_model else ""),
        options=metrics_options,
    shell:
        "python -m dcgan evaluate metrics {input.model:q} --reference {input.reference:q}"
        " --weights {input.weights:q} --out-dir {params.out:q} --hashes {params.hashes:q} {params.dedup_model}"
        " --threads {threads} {params.options} 2> {log:q}"


rule evaluate_figures:
    input:
        model=EVALUATED_MODEL,
        reference="results/{dataset}/fid/reference.npz",
        metrics="results/{dataset}/train/metrics.csv",
    output:
        record="results/{dataset}/eval/figures.json",
        samples=evaluation_figure("samples.png", "samples of seeds 0-63, row by row"),
        walks=evaluation_figure("walks.png", "latent walks (paper Fig. 4)"),
        arithmetic=evaluation_figure("arithmetic.png", "vector arithmetic (paper Fig. 7)"),
        losses=evaluation_figure("losses.png", "loss curves"),
        filters=evaluation_figure("d_filters.png", "D features by guided backpropagation (paper Fig. 5)"),
    log:
        "logs/{dataset}/evaluate_figures.log",
    conda:
        "../../envs/train.yaml"
    threads: config["evaluate"]["threads"]
    resources:
        mem_mb=8000,
        runtime=30,
    params:
        out=folder_of("output.record"),
        options=figure_options,
    shell:
        "python -m dcgan evaluate figures {input.model:q} --reference {input.reference:q}"
        " --metrics-csv {input.metrics:q} --out-dir {params.out:q} --threads {threads} {params.options} 2> {log:q}"


rule evaluate_svm:
    input:
        EVALUATED_MODEL,
    output:
        "results/{dataset}/eval/svm.json",
    log:
        "logs/{dataset}/evaluate_svm.log",
    conda:
        "../../envs/train.yaml"
    threads: config["evaluate"]["threads"]
    resources:
        gpu=1,
        mem_mb=16000,
        runtime=120,
    params:
        options=svm_options,
    shell:
        "python -m dcgan evaluate svm {input:q} --out {output:q} --threads {threads} {params.options} 2> {log:q}"


rule scores_table:
    input:
        metrics="results/{dataset}/eval/metrics.json",
        svm="results/{dataset}/eval/svm.json",
    output:
        evaluation_figure("scores.tsv", "FID, KID, hash collisions, D-feature SVM"),
    log:
        "logs/{dataset}/scores_table.log",
    localrule: True
    conda:
        "../../envs/train.yaml"
    shell:
        "python -m dcgan evaluate table --metrics {input.metrics:q} --svm {input.svm:q} --out {output:q} 2> {log:q}"


rule find_boxes:
    input:
        EVALUATED_MODEL,
    output:
        "results/{dataset}/eval/forget_boxes.tsv",
    log:
        "logs/{dataset}/find_boxes.log",
    wildcard_constraints:
        dataset=one_of(forgetting_datasets()),
    conda:
        "../../envs/train.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        options=cli_options({"samples": config["forget"]["samples"], "cascade": config["forget"]["cascade"]}),
    shell:
        "python -m dcgan find-boxes {input:q} --out {output:q} {params.options} 2> {log:q}"


rule forget:
    input:
        model=EVALUATED_MODEL,
        boxes=forget_boxes,
    output:
        figure=evaluation_figure("forget.png", "forgetting to draw (paper Fig. 6)"),
        record="results/{dataset}/eval/forget.json",
    log:
        "logs/{dataset}/forget.log",
    wildcard_constraints:
        dataset=one_of(forgetting_datasets()),
    conda:
        "../../envs/train.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        out=folder_of("output.record"),
        options=cli_options({"seed": config["seed"]}),
    shell:
        "python -m dcgan forget {input.model:q} --boxes {input.boxes:q} --out-dir {params.out:q}"
        " {params.options} 2> {log:q}"
