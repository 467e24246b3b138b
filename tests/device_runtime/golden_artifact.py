"""The committed test artifact, ``tests/golden/device_artifact`` (≈ 150 KB, random weights).

Committed rather than built in a TensorFlow fixture because the device tests must also run in a
base install (numpy + LiteRT + tqdm, no TensorFlow), where no artifact can be built. Random
weights are enough for what these tests check: plumbing, validation, fallbacks and strategy orders
against independent numpy references. Regenerate it (after a contract or export change) with:

    .venv/bin/python -c "import sys; sys.path.insert(0, '.'); import keras; \\
      from training.ranker.model import build_ranker, preset, save_ranker; \\
      keras.utils.set_random_seed(0); \\
      save_ranker(build_ranker(preset('tiny')), '/tmp/golden/run', \\
                  extra={'data_fingerprint': 'random-weights-seed-0'})"
    .venv/bin/reelrank export --ranker /tmp/golden/run --out /tmp/golden/art --sample-pages 64
    mkdir -p tests/golden/device_artifact
    cp /tmp/golden/art/{manifest.json,model.tflite,sample_inputs.npz} tests/golden/device_artifact/

``test_golden_artifact_matches_the_contract`` fails when it is stale.
"""

from __future__ import annotations

import shutil
from pathlib import Path

GOLDEN_ARTIFACT = Path(__file__).resolve().parents[1] / "golden" / "device_artifact"


def copy_artifact(dst: Path) -> Path:
    """A writable copy of the golden artifact (for tampering tests)."""
    shutil.copytree(GOLDEN_ARTIFACT, dst)
    return dst
