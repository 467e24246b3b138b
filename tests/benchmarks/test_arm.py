"""benchmarks/arm: the comparison catches each kind of mismatch (no emulator needed), and, marked
``arm``, the device runtime on emulated aarch64 agrees with x86_64 on the committed golden artifact.

The ``arm`` test builds ``.arm/`` with ``benchmarks/arm/setup.sh`` (apt-get as root the first
time); deselect it with ``-m "not arm"``."""

import json
import os
import platform
import shutil
import subprocess
import sys

import numpy as np
import pytest

from benchmarks.arm.device_check import PATHS
from benchmarks.arm.run_check import LIST_REWARD_TOL, REPO, compare
from tests.device_runtime.golden_artifact import GOLDEN_ARTIFACT

MIN_PAGES = 50


def _outputs(pages: int = 3, m: int = 4) -> dict[str, np.ndarray]:
    out = {}
    for p in PATHS:
        out[f"{p}.order"] = np.tile(np.arange(m, dtype=np.int32), (pages, 1))
        out[f"{p}.steps"] = np.full(pages, 2, np.int32)
        out[f"{p}.list_reward"] = np.linspace(1.0, 2.0, pages)
    return out


def test_compare_flags_order_steps_and_list_reward_but_not_within_tolerance():
    x86 = _outputs()
    arm = {k: v.copy() for k, v in x86.items()}
    arm["rerank.order"][1, [0, 1]] = [1, 0]
    arm["numpy_beam.steps"][2] += 1
    arm["rerank_t1.list_reward"][0] += 2 * LIST_REWARD_TOL
    arm["numpy_beam_t1.list_reward"][0] += LIST_REWARD_TOL / 2
    rows = {r["path"]: r for r in compare(x86, arm)}
    assert rows["rerank"]["mismatched_pages"] == [1] and rows["rerank"]["order_same"] == 2
    assert rows["numpy_beam"]["mismatched_pages"] == [2] and rows["numpy_beam"]["steps_same"] == 2
    assert rows["rerank_t1"]["mismatched_pages"] == [0]
    assert rows["numpy_beam_t1"]["mismatched_pages"] == []
    assert rows["numpy_beam_t1"]["max_abs_dlist_reward"] == pytest.approx(LIST_REWARD_TOL / 2)


def _can_run_emulation() -> str | None:
    """Why the emulated check cannot run here, or None."""
    if platform.system() != "Linux" or platform.machine() != "x86_64":
        return f"needs Linux x86_64, this is {platform.system()} {platform.machine()}"
    built = (REPO / ".arm" / "root" / ".ready").exists() and (
        REPO / ".arm" / "site" / ".ready"
    ).exists()
    if shutil.which("qemu-aarch64-static") and built:
        return None
    try:
        release = platform.freedesktop_os_release()
    except OSError:
        release = {}
    if (release.get("ID"), release.get("VERSION_CODENAME")) != ("debian", "bookworm"):
        return "setup.sh downloads Debian 12 (bookworm) arm64 packages; this is not Debian 12"
    if (
        os.geteuid() != 0
        and subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode != 0
    ):
        return "setup.sh needs root (or passwordless sudo) for apt-get the first time"
    return None


@pytest.mark.arm
def test_device_runtime_on_emulated_aarch64_matches_x86(tmp_path):
    why_not = _can_run_emulation()
    if why_not:
        pytest.skip(why_not)
    subprocess.run(
        ["bash", str(REPO / "benchmarks/arm/setup.sh")],
        cwd=REPO,
        check=True,
        timeout=900,
        env={**os.environ, "PY": sys.executable},
    )
    report = tmp_path / "arm_check.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks/arm/run_check.py"),
            str(GOLDEN_ARTIFACT),
            "--report",
            str(report),
        ],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "emulated time is not latency" in proc.stdout
    rep = json.loads(report.read_text())
    assert rep["ok"] and rep["pages"] >= MIN_PAGES
    assert rep["aarch64"]["machine"] == "aarch64" and rep["aarch64"]["runtime"] == "tflite_runtime"
    assert rep["aarch64"]["numpy"].startswith("1.")
    for row in rep["paths"]:
        assert row["order_same"] == row["steps_same"] == rep["pages"], row
        assert row["max_abs_dlist_reward"] <= LIST_REWARD_TOL, row
