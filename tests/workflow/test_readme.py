from helpers import REPO


def quick_start() -> list[str]:
    """The lines of the README's first fenced code block."""
    text = (REPO / "README.md").read_text()
    block = text.split("```", 2)[1]
    return [line for line in block.splitlines()[1:] if line.strip()]


def test_quick_start_is_two_commands_main_job_first():
    main_job, tests = quick_start()
    assert "snakemake --cores 8 all" in main_job
    assert "pytest" in tests


def test_ci_runs_the_readme_test_command():
    ci_lines = (REPO / ".ci" / "run").read_text().splitlines()
    assert quick_start()[1] in ci_lines
