"""The artifact manifest (see DESIGN.md, Artifacts)."""

from __future__ import annotations

import hashlib
import json
from importlib import metadata
from pathlib import Path

from device_runtime import contract as C
from device_runtime.artifact import MANIFEST, sha256_file


def toolkit_version() -> str:
    try:
        return metadata.version("reelrank")
    except metadata.PackageNotFoundError:  # running from a source tree
        return "0+source"


def build_manifest(*, dims: C.Dims, beam_size: int, quantization: str, defaults: dict, ranker_payload: dict,
                   ranker_metrics: dict | None, data_fingerprint: str, extra: dict | None = None) -> dict:
    sigs = {
        name: {"inputs": [s.to_json() for s in sig["inputs"]], "outputs": [s.to_json() for s in sig["outputs"]]}
        for name, sig in C.signature_specs(dims).items()
    }
    return {
        "schema_version": C.SCHEMA_VERSION,
        "toolkit_version": toolkit_version(),
        "feature_spec": C.feature_spec_json(),
        "dims": {"n_history": dims.n_history, "m_max": dims.m_max, "l_max": dims.l_max,
                 "prefix_len": dims.prefix_len},
        "beam_size": beam_size,
        "defaults": dict(defaults),
        "signatures": sigs,
        "prefix_gathered_from": dict(C.PREFIX_GATHERED_FROM),
        "quantization": quantization,
        "training_data": {"fingerprint": data_fingerprint},
        "ranker": {"config": ranker_payload.get("config"), "metrics": ranker_metrics},
        **(extra or {}),
    }


def embedded_copy(manifest: dict) -> bytes:
    """The manifest as embedded in the TFLite metadata: everything but the file hashes and sizes (a
    file cannot hold its own hash or size)."""
    return json.dumps({k: v for k, v in manifest.items() if k not in EMBED_EXCLUDES}, sort_keys=True).encode()


#: manifest keys that are not embedded in model.tflite's metadata (``policy`` describes
#: policy.tflite, added later by ``export.policy_export``, which embeds that section in its own file)
EMBED_EXCLUDES = ("files", "size_bytes", "policy")


def finalize(manifest: dict, artifact_dir: str | Path, files: list[str]) -> dict:
    root = Path(artifact_dir)
    manifest = dict(manifest)
    manifest["files"] = {name: sha256_file(root / name) for name in files}
    (root / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return manifest


def fingerprint_of(run_dir: str | Path, payload: dict) -> str:
    """The training data's fingerprint as the ranker run recorded it, else a hash of its config."""
    for key in ("data_fingerprint", "training_data_fingerprint"):
        if key in payload:
            return str(payload[key])
    metrics = Path(run_dir) / "metrics.json"
    if metrics.exists():
        m = json.loads(metrics.read_text())
        for key in ("data_fingerprint", "training_data_fingerprint"):
            if key in m:
                return str(m[key])
        if isinstance(m.get("data"), dict) and "fingerprint" in m["data"]:
            return str(m["data"]["fingerprint"])
    return "unrecorded:" + hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]
