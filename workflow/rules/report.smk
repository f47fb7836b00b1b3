# The run's HTML report: every stage's figures and tables (Snakemake's report), and the benchmarks page.


rule benchmarks_page:
    input:
        workflow.source_path("../../docs/benchmarks.md"),
    output:
        report(
            "results/report/benchmarks.html",
            category="Benchmarks",
            labels={"figure": "measured speed-ups"},
        ),
    log:
        "logs/benchmarks_page.log",
    localrule: True
    conda:
        "../../envs/report.yaml"
    shell:
        "python -m dcgan text-page {input:q} {output:q} 2> {log:q}"


rule results:
    input:
        results_targets(),


rule report:
    input:
        results_targets(),
    output:
        "report.html",
    log:
        "logs/report.log",
    localrule: True
    conda:
        "../../envs/report.yaml"
    params:
        snakefile=workflow.main_snakefile,
        config=config_json(),
    shell:
        "python -m dcgan report {output:q} --snakefile {params.snakefile:q} --config-json {params.config:q}"
        " 2> {log:q}"
