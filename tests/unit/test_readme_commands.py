"""README's two commands are what the project runs: CI calls the second one verbatim."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = text.split("## Two commands", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip() and not line.startswith("#")]


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    _, tests = _readme_commands()
    ci = [
        line
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.startswith(("#", "set ", "cd "))
    ]
    assert ci == [tests]
    assert (ROOT / tests.split()[-1]).is_file()


def test_the_setup_command_launches_the_example_sweep() -> None:
    setup, _ = _readme_commands()
    assert setup.startswith("bash scripts/setup.sh && .venv/bin/tunehooks launch ")
    assert (ROOT / setup.split()[-1]).is_file()
