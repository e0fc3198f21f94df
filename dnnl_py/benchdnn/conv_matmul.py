"""The compute-bound drivers: --conv and --matmul."""
from __future__ import annotations

import numpy as np

import dnnl_py as dnnl

from . import reference
from .driver_base import DEFAULT, PLAIN, Driver, dt, memory_desc, tag, tag_problem
from .options import Setup
from .problems import ConvDesc, MatmulDesc, parse_conv, parse_matmul


class Conv(Driver):
    """--conv: forward convolution; --dir=FWD_B (the default, as benchdnn's) with bias,
    FWD_D without, FWD_I for inference."""
    name = "conv"
    primitive = dnnl.convolution_forward
    parse = staticmethod(parse_conv)
    _ALG = {"direct": "convolution_direct", "wino": "convolution_winograd",
            "auto": "convolution_auto"}

    @staticmethod
    def _spatial(p: ConvDesc, values: tuple) -> list:
        return list(values[3 - p.ndims_spatial:])

    def dims(self, p: ConvDesc, setup: Setup = DEFAULT) -> dict:
        sp = self._spatial
        wei = [p.oc, p.ic, *sp(p, p.k)]
        if p.g > 1:
            wei = [p.g, p.oc // p.g, p.ic // p.g, *sp(p, p.k)]
        out = {"src": [p.mb, p.ic, *sp(p, p.i)], "weights": wei,
               "dst": [p.mb, p.oc, *sp(p, p.o)]}
        if setup.dir in ("", "FWD_B"):
            out["bias"] = [p.oc]
        return out

    def unsupported(self, p: ConvDesc, setup: Setup) -> str:
        d = self.dims(p, setup)
        for key, arg in (("stag", "src"), ("wtag", "weights"), ("dtag", "dst")):
            why = tag_problem(getattr(setup, key), len(d[arg]))
            if why:
                return f"--{key}={getattr(setup, key)}: {why}"
        return ""

    def pd(self, eng, p: ConvDesc, setup: Setup):
        d, sp = self.dims(p, setup), self._spatial
        prop = dnnl.prop_kind.forward_inference if setup.dir == "FWD_I" else \
            dnnl.prop_kind.forward_training
        bias = dnnl.memory.desc(d["bias"], dt.f32, tag.a) if "bias" in d else None
        return dnnl.convolution_forward.primitive_desc(
            eng, prop, getattr(dnnl.algorithm, self._ALG[setup.alg or "direct"]),
            memory_desc(d["src"], setup.stag), memory_desc(d["weights"], setup.wtag), bias,
            memory_desc(d["dst"], setup.dtag), strides=sp(p, p.s),
            dilates=sp(p, p.d), padding_l=sp(p, p.p), padding_r=sp(p, p.pr),
            attr=self.attr(p, setup))

    def reference(self, p: ConvDesc, data: dict, setup: Setup = DEFAULT, dtype=np.float64):
        sp = self._spatial
        wei = data["weights"].reshape(p.g, p.oc // p.g, p.ic // p.g, *sp(p, p.k))
        return reference.conv_im2col(data["src"], wei, data.get("bias"), sp(p, p.s),
                                     sp(p, p.d), sp(p, p.p), sp(p, p.pr), dtype)

    @staticmethod
    def accumulation(p: ConvDesc, setup: Setup = DEFAULT) -> int:
        """How many products each output sums (what the error grows with)."""
        return p.ic // p.g * int(np.prod(p.k))


class Matmul(Driver):
    """--matmul: src x weights with broadcast batch dims; --bia-dt=f32 adds a bias whose
    dims follow --bia_mask (bit i set: the bias varies along dst dim i)."""
    name = "matmul"
    primitive = dnnl.matmul
    parse = staticmethod(parse_matmul)

    def dims(self, p: MatmulDesc, setup: Setup = DEFAULT) -> dict:
        batch = [max(a, b) for a, b in zip(p.src[:-2], p.weights[:-2])]
        dst = [*batch, p.src[-2], p.weights[-1]]
        out = {"src": list(p.src), "weights": list(p.weights), "dst": dst}
        if setup.bia_dt != "undef":
            out["bias"] = [n if setup.bia_mask >> i & 1 else 1 for i, n in enumerate(dst)]
        return out

    def unsupported(self, p: MatmulDesc, setup: Setup) -> str:
        d = self.dims(p, setup)
        for key, arg, strides in zip(("stag", "wtag", "dtag"), ("src", "weights", "dst"),
                                     setup.strides):
            if strides and len(strides) != len(d[arg]):
                return f"--strides: {len(strides)} {arg} strides for {len(d[arg])} dims"
            why = "" if strides else tag_problem(getattr(setup, key), len(d[arg]))
            if why:
                return f"--{key}={getattr(setup, key)}: {why}"
        if setup.bia_mask >> len(d["dst"]):
            return f"--bia_mask={setup.bia_mask}: more bits than the {len(d['dst'])} dst dims"
        return ""

    def pd(self, eng, p: MatmulDesc, setup: Setup):
        d = self.dims(p, setup)
        bias = None
        if "bias" in d:
            bias = dnnl.memory.desc(d["bias"], dt.f32, PLAIN[len(d["bias"])])
        return dnnl.matmul.primitive_desc(
            eng, memory_desc(d["src"], setup.stag, setup.strides[0]),
            memory_desc(d["weights"], setup.wtag, setup.strides[1]), bias,
            memory_desc(d["dst"], setup.dtag, setup.strides[2]),
            attr=self.attr(p, setup))

    def reference(self, p: MatmulDesc, data: dict, setup: Setup = DEFAULT,
                  dtype=np.float64):
        out = reference.matmul(data["src"], data["weights"], dtype)
        return out + data["bias"].astype(dtype) if "bias" in data else out

    def oc_axis(self, ndims: int) -> int:
        return ndims - 1   # N, the output channels of a matmul

    @staticmethod
    def accumulation(p: MatmulDesc, setup: Setup = DEFAULT) -> int:
        return p.src[-1]
