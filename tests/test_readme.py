"""Every command the README shows is exercised by a test.

For each line of the README's ```bash blocks: a `reelrank SUBCOMMAND ...` line must be run through
the CLI (`run_cli("SUBCOMMAND", ...)`) in one of the test files mapped below, and every `--flag` the
README line uses must appear in that file too (the tests run the same command, on small inputs);
`make` targets map to what runs them. The two cheap README commands are also run verbatim here.
"""

import re
from pathlib import Path

from tests.conftest import run_cli

ROOT = Path(__file__).resolve().parents[1]

#: subcommand → test files that run it through the CLI
CLI_TESTS = {
    "--help": ["tests/test_cli.py"],
    "simulate-logs": ["tests/test_cli.py", "tests/test_readme.py", "tests/training/test_ranker_cli.py",
                      "tests/device_runtime/test_kuairand_world.py"],
    "world-info": ["tests/test_readme.py"],
    "demo": ["tests/test_cli.py"],
    "train-ranker": ["tests/training/test_ranker_cli.py"],
    "evaluate-ranker": ["tests/training/test_ranker_cli.py"],
    "export": ["tests/export/test_export.py"],
    "verify": ["tests/export/test_export.py"],
    "emulate": ["tests/device_runtime/test_emulator.py", "tests/export/test_policy_export.py"],
    "logs-from-events": ["tests/device_runtime/test_emulator_logs.py"],
    "bench": ["tests/benchmarks/test_bench.py"],
    "bundle": ["tests/benchmarks/test_bench.py"],
    "train-policy": ["tests/export/test_policy_export.py", "tests/training/test_policy_train.py"],
    "export-policy": ["tests/export/test_policy_export.py"],
    "policy-table": ["tests/training/test_policy_train.py"],
    "kuairand-info": ["tests/training/test_kuairand_loader.py"],
    "kuairand-split": ["tests/training/test_kuairand_loader.py"],
    "world-calibration": ["tests/device_runtime/test_kuairand_world.py"],
}
#: make target → where it runs
MAKE_TARGETS = {
    "make demo": "tests/test_cli.py",  # `make demo` = install + `reelrank demo`
    "make test": ".ci/run",  # CI runs it on every submission
    "make arm-check": "tests/benchmarks/test_arm.py",  # the same setup.sh + run_check.py
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


def inline_commands() -> list[str]:
    """`reelrank ...` commands quoted inline in the prose (they count as shown too)."""
    text = re.sub(r"```.*?```", "", (ROOT / "README.md").read_text(), flags=re.S)
    return [c.strip() for c in re.findall(r"`(reelrank [^`]+)`", text.replace("\n", " "))]


def test_readme_opens_with_the_two_commands():
    assert readme_commands()[:2] == ["make demo", "make test"]


def test_every_readme_command_is_exercised():
    for cmd in readme_commands() + inline_commands():
        if cmd.startswith("make "):
            assert cmd in MAKE_TARGETS, f"README make target not exercised: {cmd!r}"
            assert (ROOT / MAKE_TARGETS[cmd]).exists()
            continue
        words = cmd.split()
        assert words[0] == "reelrank", f"README command is neither make nor reelrank: {cmd!r}"
        if len(words) < 2:
            continue
        sub = words[1]
        assert sub in CLI_TESTS, f"README subcommand {sub!r} is not mapped to a test ({cmd!r})"
        sources = "\n".join((ROOT / f).read_text() for f in CLI_TESTS[sub])
        if sub != "--help":
            assert re.search(rf'(run_cli\(|main\(\[)\s*"{re.escape(sub)}"', sources), f"no test runs `reelrank {sub}`"
        for flag in re.findall(r"(?<!\S)(--[a-z][a-z0-9-]*)", cmd):
            assert f'"{flag}"' in sources, f"flag {flag} of README command {cmd!r} is not exercised"


def test_makefile_targets_run_what_the_tests_run():
    mk = (ROOT / "Makefile").read_text()
    assert re.search(r"^demo: install\n\t\$\(VENV\)/bin/reelrank demo$", mk, flags=re.M)
    assert re.search(r"^test: install\n\t\$\(PY\) -m pytest", mk, flags=re.M)
    assert "make test" in (ROOT / ".ci/run").read_text()
    assert "benchmarks/arm/run_check.py" in mk and "benchmarks/arm/setup.sh" in mk


def test_readme_simulate_logs(tmp_path):
    out = run_cli("simulate-logs", "--sessions", "500", "--seed", "7", "--out", str(tmp_path / "l.parquet"), "--quiet")
    assert '"impressions"' in out.stdout


def test_readme_world_info():
    out = run_cli("world-info", "--sessions", "300")
    assert '"oracle_best_of_100_gain"' in out.stdout
