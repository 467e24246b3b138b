"""Every command the README and docs/*.md show is exercised by a test.

For each line of their ```bash blocks (and each `reelrank ...` quoted inline in their prose): a
`reelrank SUBCOMMAND ...` line must be run through the CLI (`run_cli("SUBCOMMAND", ...)`) in one of
the test files mapped below, and every `--flag` the line uses must appear in that file too (the tests
run the same command, on small inputs); `make` targets map to what runs them. The commands are not
executed here, except two cheap ones of docs/world.md, which run verbatim. Shell lines that are
neither (copying a device bundle, making a virtual environment) must start with a word of the
small allow-list below. The README opens with `make demo` and `make test`, has at most 200
lines, and its links (and the docs' links) resolve.
"""

import re
from pathlib import Path

import pytest

from tests.conftest import run_cli

ROOT = Path(__file__).resolve().parents[1]
#: the README and every page under docs/
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
README_MAX_LINES = 200
#: subcommand → test files that run it through the CLI
CLI_TESTS = {
    "--help": ["tests/test_cli.py"],
    "simulate-logs": ["tests/test_cli.py", "tests/test_readme.py", "tests/training/test_ranker_cli.py",
                      "tests/device_runtime/test_kuairand_world.py", "tests/device_runtime/test_long_term_world.py"],
    "world-info": ["tests/test_readme.py", "tests/device_runtime/test_headroom.py"],
    "demo": ["tests/test_cli.py"],
    "train-ranker": ["tests/training/test_ranker_cli.py"],
    "evaluate-ranker": ["tests/training/test_ranker_cli.py"],
    "export": ["tests/export/test_export.py"],
    "verify": ["tests/export/test_export.py"],
    "emulate": ["tests/device_runtime/test_emulator.py", "tests/export/test_policy_export.py",
                "tests/device_runtime/test_long_term_world.py"],
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


#: leading words of shell lines that are neither `reelrank` nor `make` (the device-bundle steps)
OTHER_SHELL = {"scp", "python3", "~/rr/bin/pip"}
#: how the `reelrank` console script is called (on the device: from the venv the README makes)
REELRANK = {"reelrank", "~/rr/bin/reelrank"}


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def shell_commands(path: Path = ROOT / "README.md") -> list[str]:
    """Every command of the ```bash blocks of ``path`` (comments dropped; `a && b` is two commands)."""
    cmds = []
    for block in re.findall(r"```bash\n(.*?)```", path.read_text(), flags=re.S):
        for line in block.splitlines():
            line = line.split("  #")[0].strip()
            if line and not line.startswith("#"):
                cmds += [part.strip() for part in line.split("&&") if part.strip()]
    return cmds


def readme_commands() -> list[str]:
    return shell_commands(ROOT / "README.md")


def inline_commands(path: Path = ROOT / "README.md") -> list[str]:
    """`reelrank ...` commands quoted inline in the prose (they count as shown too)."""
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    return [c.strip() for c in re.findall(r"`(reelrank [^`]+)`", text.replace("\n", " "))]


def check_command(cmd: str, where: str) -> None:
    words = cmd.split()
    if words[0] == "make":
        assert cmd in MAKE_TARGETS, f"{where}: make target not exercised: {cmd!r}"
        assert (ROOT / MAKE_TARGETS[cmd]).exists()
        return
    if words[0] in OTHER_SHELL:
        return
    assert words[0] in REELRANK, f"{where}: command is neither make, reelrank nor allowed: {cmd!r}"
    if len(words) < 2:
        return
    sub = words[1]
    assert sub in CLI_TESTS, f"{where}: subcommand {sub!r} is not mapped to a test ({cmd!r})"
    sources = "\n".join((ROOT / f).read_text() for f in CLI_TESTS[sub])
    if sub != "--help":
        assert re.search(rf'(run_cli\(|main\(\[)\s*"{re.escape(sub)}"', sources), f"no test runs `reelrank {sub}`"
    for flag in re.findall(r"(?<!\S)(--[a-z][a-z0-9-]*)", cmd):
        assert f'"{flag}"' in sources, f"{where}: flag {flag} of {cmd!r} is not exercised"


def test_readme_opens_with_the_two_commands():
    assert readme_commands()[:2] == ["make demo", "make test"]


def test_readme_is_at_most_200_lines():
    n = len((ROOT / "README.md").read_text().splitlines())
    assert n <= README_MAX_LINES, f"README.md has {n} lines; move details to docs/"


def test_the_docs_exist():
    names = {p.name for p in DOCS[1:]}
    assert {"README.md", "performance.md", "device_runtime.md"} <= names, names


@pytest.mark.parametrize("doc", DOCS, ids=_rel)
def test_every_shown_command_is_exercised(doc):
    cmds = shell_commands(doc) + inline_commands(doc)
    for cmd in cmds:
        check_command(cmd, _rel(doc))


def test_the_check_rejects_what_it_should():
    """A check that cannot fail is no check: unknown words, subcommands and flags are caught."""
    for bad in ("rm -rf /tmp/x", "reelrank no-such-command", "reelrank verify /tmp/a --no-such-flag",
                "make no-such-target", "pip install ."):
        with pytest.raises(AssertionError):
            check_command(bad, "probe")
    check_command("~/rr/bin/reelrank bench latency --artifact a --runtimes tflite_xnnpack --json b.json", "probe")


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@pytest.mark.parametrize("doc", DOCS, ids=_rel)
def test_relative_links_resolve(doc):
    text = re.sub(r"```.*?```", "", doc.read_text(), flags=re.S)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        dest = (doc.parent / file).resolve() if file else doc
        assert dest.exists(), f"{_rel(doc)}: link to a missing file: {target}"
        if anchor and dest.is_file():
            slugs = {_slug(h) for h in re.findall(r"^#+ (.*)$", dest.read_text(), flags=re.M)}
            assert anchor in slugs, f"{_rel(doc)}: link to a missing heading: {target}"


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
