"""Every command the README shows is exercised by a test: each bash line must be listed here with
the test that runs it, and that test must exist."""

import re
from pathlib import Path

from tests.conftest import run_cli

ROOT = Path(__file__).resolve().parents[1]

#: README command → "tests/<file>.py::<test>" that runs it (or the exact command, below).
EXERCISED = {
    "make demo": "tests/test_cli.py::test_demo_prints_a_summary",  # `make demo` = install + `reelrank demo`
    "make test": ".ci/run",  # CI runs it on every submission
    "reelrank --help": "tests/test_cli.py::test_help_lists_subcommands",
    "reelrank simulate-logs --sessions 500 --seed 7 --out /tmp/l.parquet": "tests/test_readme.py::test_readme_simulate_logs",
    "reelrank world-info --sessions 300": "tests/test_readme.py::test_readme_world_info",
}


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    cmds = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            line = line.split("  #")[0].strip()
            if line and not line.startswith("#"):
                cmds.append(line)
    return cmds


def test_every_readme_command_is_exercised():
    cmds = readme_commands()
    assert cmds[:2] == ["make demo", "make test"], "the README must open with the two commands"
    for cmd in cmds:
        assert cmd in EXERCISED, f"README command not exercised by any test: {cmd!r}"
        target = EXERCISED[cmd]
        if "::" in target:
            path, name = target.split("::")
            assert f"def {name}(" in (ROOT / path).read_text(), f"{target} does not exist"
        else:
            assert (ROOT / target).exists()


def test_makefile_demo_and_test_targets_run_the_commands_tested():
    mk = (ROOT / "Makefile").read_text()
    assert re.search(r"^demo: install\n\t\$\(VENV\)/bin/reelrank demo$", mk, flags=re.M)
    assert re.search(r"^test: install\n\t\$\(PY\) -m pytest", mk, flags=re.M)
    assert "make test" in (ROOT / ".ci/run").read_text()


def test_readme_simulate_logs(tmp_path):
    out = run_cli("simulate-logs", "--sessions", "500", "--seed", "7", "--out", str(tmp_path / "l.parquet"), "--quiet")
    assert '"impressions"' in out.stdout


def test_readme_world_info():
    out = run_cli("world-info", "--sessions", "300")
    assert '"oracle_best_of_100_gain"' in out.stdout
