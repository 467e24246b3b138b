"""What is inside a .tflite: the op histogram over every subgraph (WHILE bodies are subgraphs of
their own) and FLOPs counted from the graph's static shapes. Parsed with the flatbuffer schema
that ai-edge-litert ships; no TensorFlow."""

from __future__ import annotations

from collections import Counter
from typing import NamedTuple

import numpy as np

FORBIDDEN = {"CUSTOM", "VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE", "CALL_ONCE"}


def _schema():
    from ai_edge_litert import schema_py_generated as fb

    return fb


def _op_names(model, fb) -> list[str]:
    names_by_code = {v: k for k, v in vars(fb.BuiltinOperator).items() if not k.startswith("_")}
    names = []
    for i in range(model.OperatorCodesLength()):
        oc = model.OperatorCodes(i)
        name = names_by_code[max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())]
        if name == "CUSTOM":
            name = "CUSTOM:" + oc.CustomCode().decode()
        names.append(name)
    return names


def op_histogram(blob: bytes) -> Counter:
    fb = _schema()
    model = fb.Model.GetRootAs(blob, 0)
    names = _op_names(model, fb)
    hist: Counter = Counter()
    for s in range(model.SubgraphsLength()):
        sg = model.Subgraphs(s)
        for o in range(sg.OperatorsLength()):
            hist[names[sg.Operators(o).OpcodeIndex()]] += 1
    return hist


def check_ops(blob: bytes) -> Counter:
    """The op histogram; raises if a Flex, custom or variable op is present."""
    hist = op_histogram(blob)
    bad = sorted(n for n in hist if n.split(":")[0] in FORBIDDEN or "Flex" in n)
    if bad:
        raise RuntimeError(f"forbidden ops in the TFLite model: {bad}; histogram {dict(hist)}")
    return hist


class SubgraphFlops(NamedTuple):
    name: str
    flops: int  # multiply-adds count 2 FLOPs; elementwise ops 1 per output element


def subgraph_flops(blob: bytes) -> list[SubgraphFlops]:
    """FLOPs of one execution of every subgraph, from static tensor shapes."""
    fb = _schema()
    model = fb.Model.GetRootAs(blob, 0)
    names = _op_names(model, fb)
    out = []
    for s in range(model.SubgraphsLength()):
        sg = model.Subgraphs(s)

        def shape(t, sg=sg):
            return [int(x) for x in sg.Tensors(t).ShapeAsNumpy()] if sg.Tensors(t).ShapeLength() else []

        total = 0
        for o in range(sg.OperatorsLength()):
            op = sg.Operators(o)
            name = names[op.OpcodeIndex()]
            ins = [op.Inputs(i) for i in range(op.InputsLength())]
            outs = [op.Outputs(i) for i in range(op.OutputsLength())]
            out_elems = int(np.prod(shape(outs[0]))) if outs and outs[0] >= 0 else 0
            if name == "FULLY_CONNECTED":
                k_in = shape(ins[1])[-1]
                total += 2 * out_elems * k_in
            elif name == "BATCH_MATMUL":
                a = shape(ins[0])
                adj_x = False
                opts = op.BuiltinOptions()
                if opts is not None:
                    bm = fb.BatchMatMulOptions()
                    bm.Init(opts.Bytes, opts.Pos)
                    adj_x = bool(bm.AdjX())
                k_in = a[-2] if adj_x else a[-1]
                total += 2 * out_elems * k_in
            elif name in ("WHILE", "RESHAPE", "GATHER", "TILE", "CONCATENATION", "STRIDED_SLICE",
                          "TRANSPOSE", "PACK", "SLICE", "EXPAND_DIMS", "SQUEEZE", "SHAPE"):
                continue  # data movement (WHILE's body is counted per step by the caller)
            else:
                total += out_elems
        out.append(SubgraphFlops(sg.Name().decode() if sg.Name() else f"subgraph_{s}", total))
    return out
