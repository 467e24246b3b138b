"""The TFLite interpreter, TensorFlow-free: LiteRT (``ai_edge_litert``) first, ``tflite_runtime``
as the fallback a Raspberry Pi with numpy 1.x runs. Also a dependency-free reader for the JSON
embedded in a ``.tflite``'s metadata (works where neither TensorFlow nor flatbuffers exist)."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np


def interpreter_module() -> Any:
    """The interpreter module in use: ``ai_edge_litert.interpreter`` or ``tflite_runtime.interpreter``."""
    try:
        from ai_edge_litert import interpreter as lite
    except ImportError:  # pragma: no cover - exercised on the ARM check with tflite-runtime
        from tflite_runtime import interpreter as lite  # type: ignore[no-redef]
    return lite


def runtime_name() -> str:
    return interpreter_module().__name__.split(".")[0]


def needs_reference_kernels(quantization: str | None) -> bool:
    """tflite-runtime 2.14's XNNPACK delegate runs fp16-weight models in half precision and gets
    the in-graph beam search wrong (order all 0, list_reward = the mask sentinel), while its
    reference kernels and LiteRT's XNNPACK are exact. So fp16 artifacts skip the delegate there."""
    return quantization == "fp16" and runtime_name() == "tflite_runtime"


def load_interpreter(
    model: str | Path | bytes, *, reference: bool = False, threads: int = 1,
    quantization: str | None = None,
) -> Any:
    """An allocated interpreter. ``reference=True`` uses the builtin reference kernels without the
    default XNNPACK delegate (``BUILTIN_WITHOUT_DEFAULT_DELEGATES``); so does an fp16 artifact
    (``quantization``) under tflite-runtime (see ``needs_reference_kernels``)."""
    lite = interpreter_module()
    reference = reference or needs_reference_kernels(quantization)
    kw: dict[str, Any] = {"num_threads": int(threads)}
    if reference:
        kw["experimental_op_resolver_type"] = lite.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    if isinstance(model, bytes | bytearray):
        interp = lite.Interpreter(model_content=bytes(model), **kw)
    else:
        interp = lite.Interpreter(model_path=str(model), **kw)
    interp.allocate_tensors()
    return interp


class SignatureRunner:
    """A cached signature runner for fixed-shape signatures.

    LiteRT's own runner resizes and re-allocates every input on every call; with the contract's
    fixed shapes that is wasted work, so after one allocating call this sets tensors and invokes
    directly (``set`` + ``invoke``), and a caller may set only the inputs that changed (the numpy
    beam search sets the page once per rerank and only the prefix per beam). Falls back to the
    public runner where the interpreter's internals differ."""

    def __init__(self, interpreter: Any, name: str) -> None:
        sigs = interpreter.get_signature_list()
        if name not in sigs:
            raise KeyError(f"signature {name!r} not in the model; it has {sorted(sigs)}")
        self.name = name
        self._runner = interpreter.get_signature_runner(name)
        details = self._runner.get_input_details()
        self.inputs = {k: (tuple(int(s) for s in v["shape"]), np.dtype(v["dtype"])) for k, v in details.items()}
        self.outputs = list(sigs[name]["outputs"])
        r = self._runner
        self._fast = all(hasattr(r, a) for a in ("_interpreter_wrapper", "_subgraph_index", "_inputs", "_outputs"))
        if self._fast:
            self._w, self._sub = r._interpreter_wrapper, r._subgraph_index
            self._in_idx, self._out_idx = dict(r._inputs), list(r._outputs)
            # one allocating call through the public API, with zeros of the exact shapes
            r(**{k: np.zeros(shape, dt) for k, (shape, dt) in self.inputs.items()})

    def _cast(self, name: str, value: Any) -> np.ndarray:
        shape, dt = self.inputs[name]
        arr = np.asarray(value, dtype=dt)
        if arr.shape != shape:
            arr = arr.reshape(shape)
        return arr if arr.flags.c_contiguous else np.array(arr, order="C")  # keeps 0-d scalars 0-d

    def set(self, **feeds: Any) -> None:
        """Set some inputs (fast path only); the rest keep their last values."""
        for k, v in feeds.items():
            self._w.SetTensor(self._in_idx[k], self._cast(k, v), self._sub)

    def invoke(self) -> dict[str, np.ndarray]:
        self._w.Invoke(self._sub)
        return {name: self._w.GetTensor(idx, self._sub) for name, idx in self._out_idx}

    @property
    def fast(self) -> bool:
        return self._fast

    def __call__(self, **feeds: Any) -> dict[str, np.ndarray]:
        missing = sorted(set(self.inputs) - set(feeds))
        if missing:
            raise KeyError(f"signature {self.name!r} needs inputs {missing}")
        if self._fast:
            self.set(**{k: feeds[k] for k in self.inputs})
            return self.invoke()
        return self._runner(**{k: self._cast(k, feeds[k]) for k in self.inputs})


# -- metadata ---------------------------------------------------------------------------------
def _u32(b: memoryview, o: int) -> int:
    return struct.unpack_from("<I", b, o)[0]


def _field(b: memoryview, table: int, fid: int) -> int | None:
    vt = table - struct.unpack_from("<i", b, table)[0]
    if 4 + 2 * fid >= struct.unpack_from("<H", b, vt)[0]:
        return None
    off = struct.unpack_from("<H", b, vt + 4 + 2 * fid)[0]
    return table + off if off else None


def _vector(b: memoryview, pos: int) -> tuple[int, int]:
    v = pos + _u32(b, pos)
    return v + 4, _u32(b, v)


def read_tflite_metadata(blob: bytes) -> dict[str, bytes]:
    """Every ``Model.metadata`` entry of a TFLite flatbuffer as ``{name: bytes}``.

    Schema facts used: Model.buffers is field 4 and Model.metadata field 6; Metadata{name: string
    (0), buffer: uint (1)}; Buffer{data: [ubyte] (0), offset: ulong (1), size: ulong (2)}.
    """
    b = memoryview(blob)
    root = _u32(b, 0)
    bufs_pos, md_pos = _field(b, root, 4), _field(b, root, 6)
    if md_pos is None or bufs_pos is None:
        return {}
    bufs, _ = _vector(b, bufs_pos)
    mds, n = _vector(b, md_pos)
    out: dict[str, bytes] = {}
    for i in range(n):
        md = mds + 4 * i + _u32(b, mds + 4 * i)
        name_pos = _field(b, md, 0)
        if name_pos is None:
            continue
        s, sl = _vector(b, name_pos)
        bi_pos = _field(b, md, 1)
        bi = _u32(b, bi_pos) if bi_pos is not None else 0
        buf = bufs + 4 * bi + _u32(b, bufs + 4 * bi)
        dpos = _field(b, buf, 0)
        data = b""
        if dpos is not None:
            d, dl = _vector(b, dpos)
            data = bytes(b[d : d + dl])
        else:
            off, size = _field(b, buf, 1), _field(b, buf, 2)
            if off is not None and size is not None:
                o = struct.unpack_from("<Q", b, off)[0]
                data = bytes(b[o : o + struct.unpack_from("<Q", b, size)[0]])
        out[bytes(b[s : s + sl]).decode()] = data
    return out


MANIFEST_METADATA_KEY = "reelrank_manifest"


def read_embedded_manifest(path: str | Path) -> dict | None:
    """The manifest JSON embedded in a ``.tflite`` by the exporter, or None."""
    meta = read_tflite_metadata(Path(path).read_bytes())
    raw = meta.get(MANIFEST_METADATA_KEY)
    return json.loads(raw.decode()) if raw else None
