"""The README's app-loop example (its one ```python block) is short, runs as printed, and needs no
TensorFlow.

It is written to a file and run by a fresh interpreter from the repository root in which importing
TensorFlow, Keras, training or export fails. The same interpreter then plays the same user through
the emulator's own loop (`device_runtime.sim.rollout.run_session` with a `DeviceFeed`), so the
example is checked to be that loop, not a lookalike: same videos watched, likes and reranks.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 20
BLOCKED = ("tensorflow", "keras", "tf2onnx", "training", "export", "pyarrow")

RUNNER = '''
import importlib.abc, json, re, runpy, sys

class _Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ImportError(f"{{name}} is not available to the README example")

sys.meta_path.insert(0, _Blocked())
ns = runpy.run_path({example!r}, run_name="__main__")

from device_runtime import DeviceFeed, Reranker
from device_runtime.sim.rollout import run_session
from device_runtime.sim.world import SyntheticWorld

seed, index = map(int, re.search(r"new_session\\(seed=(\\d+), index=(\\d+)\\)", open({example!r}).read()).groups())
world = SyntheticWorld(world_seed=ns["server"].world_seed)
session = world.new_session(seed, index)
feed = DeviceFeed(Reranker(ns["reranker"].artifact_dir), ns["feed"].strategy, network=session.network)
run_session(world, session, feed=feed)
m = feed.metrics()
print("EMULATOR " + json.dumps({{"depth": m.depth, "likes": m.likes, "reranks": m.reranks}}))
'''


def readme_example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    assert len(blocks) == 1, f"the README should hold one python block (the app loop), found {len(blocks)}"
    return blocks[0]


def test_readme_example_is_at_most_20_lines():
    n = len(readme_example().splitlines())
    assert 0 < n <= MAX_LINES, f"the README's example has {n} lines"


def test_readme_example_runs_without_tensorflow(tmp_path):
    example = tmp_path / "readme_example.py"
    example.write_text(readme_example())
    runner = tmp_path / "runner.py"
    runner.write_text(RUNNER.format(blocked=BLOCKED, example=str(example)))
    proc = subprocess.run([sys.executable, str(runner)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    got = re.search(r"^watched (\d+) videos, (\d+) likes, (\d+) reranks, (\d+) fallbacks; served: (\w+)$",
                    proc.stdout, flags=re.M)
    assert got, f"the example printed no summary line:\n{proc.stdout}"
    depth, likes, reranks, fallbacks = map(int, got.groups()[:4])
    assert depth >= 1 and reranks >= depth  # a rerank before every video, one more after a like
    assert fallbacks == 0 and got.group(5) == "adaptive_beam"  # the model served, not the server order

    emulator = json.loads(re.search(r"^EMULATOR (.*)$", proc.stdout, flags=re.M).group(1))
    assert emulator == {"depth": depth, "likes": likes, "reranks": reranks}
