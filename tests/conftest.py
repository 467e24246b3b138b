import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def run_cli(*args: str, timeout: int = 600, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run `python -m reelrank ARGS` in a fresh interpreter; raise with its output on failure."""
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "reelrank", *args], cwd=ROOT, capture_output=True, text=True,
        timeout=timeout, env=full_env,
    )
    if proc.returncode != 0:
        raise AssertionError(f"reelrank {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT
