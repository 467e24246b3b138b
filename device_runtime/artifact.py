"""An artifact directory and its manifest: what the runtime checks before it trusts a model.

The runtime refuses an artifact whose files are missing, whose sha256 hashes or schema version do
not match, or whose signatures differ from the contract."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from device_runtime import contract as C

MANIFEST = "manifest.json"
MODEL = "model.tflite"
POLICY = "policy.tflite"
SAMPLES = "sample_inputs.npz"
ONNX = "model.onnx"


class ArtifactError(Exception):
    """Why an artifact cannot be used; ``reason`` is a stable code for logs and counters."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_manifest(artifact_dir: str | Path, *, check_hashes: bool = True) -> dict:
    """The validated manifest of an artifact directory; raises ``ArtifactError``."""
    root = Path(artifact_dir)
    path = root / MANIFEST
    if not path.exists():
        raise ArtifactError("missing_manifest", f"{root} has no {MANIFEST}")
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ArtifactError("bad_manifest", f"{path} is not valid JSON: {e}") from e
    version = manifest.get("schema_version")
    if version != C.SCHEMA_VERSION:
        raise ArtifactError(
            "schema_version", f"{root} has schema_version {version!r}, this runtime needs {C.SCHEMA_VERSION!r}"
        )
    files = manifest.get("files")
    if not isinstance(files, dict) or MODEL not in files:
        raise ArtifactError("bad_manifest", f"{path} lists no {MODEL} hash")
    if check_hashes:
        for name, digest in files.items():
            f = root / name
            if not f.exists():
                raise ArtifactError("missing_file", f"{root} lacks {name}, listed in its manifest")
            got = sha256_file(f)
            if got != digest:
                raise ArtifactError("hash_mismatch", f"{f} has sha256 {got[:12]}…, the manifest says {digest[:12]}…")
    return manifest


def dims_of(manifest: dict) -> C.Dims:
    d = manifest["dims"]
    return C.Dims(n_history=d["n_history"], m_max=d["m_max"], l_max=d["l_max"])


def check_signatures(manifest: dict) -> None:
    """The manifest's signatures must equal the contract's for its dims."""
    want = {
        name: {"inputs": [s.to_json() for s in sig["inputs"]], "outputs": [s.to_json() for s in sig["outputs"]]}
        for name, sig in C.signature_specs(dims_of(manifest)).items()
    }
    got = {k: manifest["signatures"][k] for k in want if k in manifest.get("signatures", {})}
    if got != want:
        raise ArtifactError("signature_mismatch", "the manifest's signatures differ from the contract")
