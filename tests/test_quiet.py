"""Quiet by default: no TensorFlow, absl, oneDNN, LiteRT or retracing lines and no framework
warnings in a command's output unless ``reelrank --verbose`` (``reelrank.quiet.quiet_frameworks``)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: what the frameworks print on their own (C++ log heads, absl, oneDNN, LiteRT, tf.function
#: retracing, Python warnings and framework loggers)
NOISE = re.compile(r"^[IWEF]\d{4} |absl|oneDNN|TensorFlow|tensorflow|retracing|XNNPACK|Warning\b"
                   r"|^(INFO|WARNING)\b", re.MULTILINE)


def _run(args: list[str], env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """``args`` in a fresh interpreter with the user's TF_CPP_MIN_LOG_LEVEL unset (unless ``env``
    sets it); stdout and stderr together in ``.stdout``."""
    full = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"} | (env or {})
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, env=full, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=timeout)
    proc.stdout = proc.stdout.decode(errors="replace")  # (not text=True: keep the \r of progress bars)
    return proc


# what absl, TensorFlow's C++ and LiteRT write straight to file descriptor 2, some of it in pieces
_WRITER = r"""
import os, sys, time
sys.path.insert(0, {root!r})
from reelrank.quiet import quiet_frameworks
with quiet_frameworks({verbose}):
    os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
                b"I0000 00:00:1796691829.132078   11369 port.cc:153] oneDNN custom operations are on.\n")
    for piece in (b"INFO: ", b"Created TensorFlow Lite XNNPACK delegate for CPU.", b"\n"):
        os.write(2, piece)
    os.write(2, b"W0000 00:00:1796691829.2   11369 a.cc:1] a warning\n")
    os.write(2, b"E0000 00:00:1796691829.3   11369 b.cc:2] an error\nERROR: a LiteRT error\n")
    print("WARNING:absl:a Python absl warning", file=sys.stderr)
    print("our own line", file=sys.stderr)
    for i in range(3):
        sys.stderr.write(f"\rbar {{i}}/3")
        sys.stderr.flush()
        time.sleep(0.05)
    sys.stderr.write("\n")
    os.write(2, b"a slow ")
    time.sleep(0.3)
    os.write(2, b"line\nI")
    os.write(2, b"0000 00:00:1796691829.4   11369 c.cc:3] info in two writes\nno newline at the end")
print(" | stdout")
"""


@pytest.mark.parametrize("level, verbose, kept", [
    (None, False, ["E0000", "ERROR: a LiteRT"]),
    ("1", False, ["W0000", "E0000", "ERROR: a LiteRT"]),  # the user's TF_CPP_MIN_LOG_LEVEL wins
    (None, True, ["WARNING: All log", "oneDNN", "INFO: Created", "W0000", "E0000", "ERROR: a LiteRT",
                  "WARNING:absl", "info in two writes"]),
])
def test_stderr_filter_drops_framework_lines_below_the_level_and_passes_the_rest(level, verbose, kept):
    env = {"TF_CPP_MIN_LOG_LEVEL": level} if level else None
    proc = _run(["-c", _WRITER.format(root=str(ROOT), verbose=verbose)], env=env, timeout=60)
    assert proc.returncode == 0, proc.stdout
    out = proc.stdout
    # ours, in order: progress bar redraws (\r) and a line that stalled mid-way included
    assert re.search(r"our own line\n\rbar 0/3\rbar 1/3\rbar 2/3\na slow line\n", out), out
    assert out.endswith("no newline at the end | stdout\n"), out
    framework = ["WARNING: All log", "oneDNN", "INFO: Created", "W0000", "E0000", "ERROR: a LiteRT",
                 "WARNING:absl", "info in two writes"]
    assert [f for f in framework if f in out] == kept, out


def test_verbose_is_a_global_flag_before_the_command():
    proc = _run(["-m", "reelrank", "--verbose", "world-info", "--sessions", "3"], timeout=120)
    assert proc.returncode == 0 and '"measured"' in proc.stdout, proc.stdout
    proc = _run(["-m", "reelrank", "world-info", "--verbose"], timeout=120)
    assert proc.returncode == 2 and "unrecognized arguments: --verbose" in proc.stdout, proc.stdout


@pytest.mark.slow
def test_training_prints_no_framework_lines_unless_verbose(tmp_path):
    logs = tmp_path / "logs.parquet"
    sim = _run(["-m", "reelrank", "simulate-logs", "--sessions", "200", "--seed", "1", "--out", str(logs), "--quiet"])
    assert sim.returncode == 0, sim.stdout
    # with its baselines: several models predict, which is what made tf.function note retracing
    train = ["-m", "reelrank", "train-ranker", "--logs", str(logs), "--preset", "tiny", "--epochs", "1",
             "--batch", "256", "--quiet"]
    quiet = _run([*train, "--out", str(tmp_path / "quiet")])
    assert quiet.returncode == 0, quiet.stdout
    assert (tmp_path / "quiet" / "ranker.weights.h5").exists()
    noise = [line for line in quiet.stdout.splitlines() if NOISE.search(line)]
    assert noise == [], quiet.stdout
    verbose = _run([*train[:2], "--verbose", *train[2:], "--no-baselines", "--out", str(tmp_path / "verbose")])
    assert verbose.returncode == 0, verbose.stdout
    assert (tmp_path / "verbose" / "ranker.weights.h5").exists()
