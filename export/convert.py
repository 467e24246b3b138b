"""Freeze → SavedModel with named signatures → TFLite (builtin ops only) → embed the manifest.

Traps handled here (see ../shared/guides/PLATFORM_NOTES.md): Keras variables survive a plain
conversion as VAR_HANDLE/READ_VARIABLE ops, so every concrete function is frozen first; freezing
loses output names and shapes, so they are restored; control flow is not lowered (tf2onnx needs
the functional While); Select TF ops are never enabled, and any Flex/custom/variable op fails
the export.
"""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from device_runtime import contract as C
from export.graph import SearchConfig, make_functions, tensor_specs
from export.opcheck import check_ops

QUANTIZATIONS = ("none", "fp16", "dynamic-int8")


def _restore_structure(frozen, concrete):
    def call(*args):
        outs = frozen(*args)
        outs = [tf.ensure_shape(o, ref.shape) for o, ref in zip(outs, concrete.outputs, strict=True)]
        return tf.nest.pack_sequence_as(concrete.structured_outputs, outs)

    return call


def frozen_module(model, search: SearchConfig) -> tf.Module:
    """A tf.Module whose ``score`` and ``rerank`` are frozen tf.functions (no variables)."""
    score_fn, rerank_fn = make_functions(model, search)
    module = tf.Module()
    for name, fn in ((C.SCORE_SIGNATURE, score_fn), (C.RERANK_SIGNATURE, rerank_fn)):
        specs = tensor_specs(name, search.dims)
        concrete = tf.function(fn).get_concrete_function(**specs)
        frozen = convert_variables_to_constants_v2(concrete, lower_control_flow=False)
        got = [t.name.split(":")[0] for t in frozen.inputs]
        if got != list(specs):
            raise RuntimeError(f"frozen {name} inputs {got} != contract {list(specs)}")
        wrapped = tf.function(_restore_structure(frozen, concrete), input_signature=list(specs.values()))
        setattr(module, name, wrapped)
    return module


def save_savedmodel(module: tf.Module, out_dir: str | Path) -> Path:
    out = Path(out_dir)
    tf.saved_model.save(
        module, str(out),
        signatures={n: getattr(module, n).get_concrete_function() for n in (C.SCORE_SIGNATURE, C.RERANK_SIGNATURE)},
    )
    return out


def to_tflite(savedmodel_dir: str | Path, quantize: str = "none") -> bytes:
    if quantize not in QUANTIZATIONS:
        raise ValueError(f"`quantize` must be one of {QUANTIZATIONS}, got {quantize!r}")
    conv = tf.lite.TFLiteConverter.from_saved_model(
        str(savedmodel_dir), signature_keys=[C.SCORE_SIGNATURE, C.RERANK_SIGNATURE]
    )
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantize == "fp16":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.target_spec.supported_types = [tf.float16]
    elif quantize == "dynamic-int8":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        # Per-tensor weights keep FULLY_CONNECTED at an op version tflite-runtime 2.14 can run
        # (per-channel emits v12, which it rejects).
        conv._experimental_disable_per_channel_quantization_for_dense_layers = True
    blob = conv.convert()
    check_ops(blob)
    return blob


def embed_metadata(blob: bytes, name: str, payload: bytes) -> bytes:
    """Add (or replace) a named metadata entry in a TFLite flatbuffer."""
    import numpy as np
    from ai_edge_litert import schema_py_generated as fb
    from ai_edge_litert.tools import flatbuffer_utils as fu

    model = fu.read_model_from_bytearray(bytearray(blob))

    def _name(md) -> str:
        return md.name.decode() if isinstance(md.name, bytes) else md.name

    model.metadata = [md for md in (model.metadata or []) if _name(md) != name]
    buf = fb.BufferT()
    buf.data = np.frombuffer(payload, np.uint8)
    model.buffers.append(buf)
    md = fb.MetadataT()
    md.name, md.buffer = name, len(model.buffers) - 1
    model.metadata.append(md)
    return bytes(fu.convert_object_to_bytearray(model))
