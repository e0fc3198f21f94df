"""What the driver knows of each primitive kind: its problem syntax, how a problem becomes
a primitive descriptor, seeded inputs, and the numpy reference it is checked against."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import dnnl_py as dnnl

from . import reference
from .problems import ConvDesc, MatmulDesc, ProblemError, parse_conv, parse_matmul

dt, tag = dnnl.memory.data_type, dnnl.memory.format_tag
PLAIN = {1: tag.a, 2: tag.ab, 3: tag.abc, 4: tag.abcd, 5: tag.abcde, 6: tag.abcdef}


@dataclass(frozen=True)
class Setup:
    """The options that shape a problem beyond its dims: benchdnn's --attr-post-ops and
    --stag/--wtag/--dtag (format tag names; `any` lets the implementation choose)."""
    post_ops: tuple = ()
    stag: str = "any"
    wtag: str = "any"
    dtag: str = "any"


def format_tag(name: str) -> tag:
    try:
        return tag[name]
    except KeyError:
        raise ProblemError(f"unknown format tag {name!r} (oneDNN's names: any, nchw, nhwc, "
                           "abcd, ...)") from None


def attr_of(ops) -> dnnl.primitive_attr:
    """A primitive_attr holding post-ops in parse_post_ops' form."""
    po = dnnl.post_ops()
    for op in ops:
        if op[0] == "sum":
            po.append_sum(op[1])
        else:
            po.append_eltwise(getattr(dnnl.algorithm, op[1]), op[2], op[3])
    attr = dnnl.primitive_attr()
    attr.set_post_ops(po)
    return attr


def to_memory(eng, strm, array, md) -> dnnl.memory:
    """A memory of layout `md` holding a copy of `array` (reordered from a plain layout
    when `md` is not plain)."""
    data = np.array(array, np.float32, order="C")
    dense = [s // data.itemsize for s in data.strides]  # any rank: format tags stop at 6
    user = dnnl.memory(dnnl.memory.desc(data.shape, dt.f32, dense), eng, data)
    if md == user.get_desc():
        return user
    mem = dnnl.memory(md, eng)
    dnnl.reorder(user, mem).execute(strm, {dnnl.ARG_FROM: user, dnnl.ARG_TO: mem})
    return mem


class Conv:
    """--conv: forward inference convolution, no bias (benchdnn's --dir=FWD_I)."""
    name = "conv"
    primitive = dnnl.convolution_forward
    parse = staticmethod(parse_conv)

    @staticmethod
    def _spatial(p: ConvDesc, values: tuple) -> list:
        return list(values[3 - p.ndims_spatial:])

    def dims(self, p: ConvDesc) -> dict:
        sp = self._spatial
        wei = [p.oc, p.ic, *sp(p, p.k)]
        if p.g > 1:
            wei = [p.g, p.oc // p.g, p.ic // p.g, *sp(p, p.k)]
        return {"src": [p.mb, p.ic, *sp(p, p.i)], "weights": wei,
                "dst": [p.mb, p.oc, *sp(p, p.o)]}

    def pd(self, eng, p: ConvDesc, setup: Setup):
        d, sp = self.dims(p), self._spatial
        md = dnnl.memory.desc
        return dnnl.convolution_forward.primitive_desc(
            eng, dnnl.prop_kind.forward_inference, dnnl.algorithm.convolution_direct,
            md(d["src"], dt.f32, format_tag(setup.stag)),
            md(d["weights"], dt.f32, format_tag(setup.wtag)), None,
            md(d["dst"], dt.f32, format_tag(setup.dtag)), strides=sp(p, p.s),
            dilates=sp(p, p.d), padding_l=sp(p, p.p), padding_r=sp(p, p.pr),
            attr=attr_of(setup.post_ops))

    def reference(self, p: ConvDesc, src, weights, dtype=np.float64):
        sp = self._spatial
        wei = weights.reshape(p.g, p.oc // p.g, p.ic // p.g, *sp(p, p.k))
        return reference.conv_im2col(src, wei, None, sp(p, p.s), sp(p, p.d), sp(p, p.p),
                                     sp(p, p.pr), dtype)

    @staticmethod
    def accumulation(p: ConvDesc) -> int:
        """How many products each output sums (what the error grows with)."""
        return p.ic // p.g * int(np.prod(p.k))


class Matmul:
    """--matmul: src x weights with broadcast batch dims, no bias."""
    name = "matmul"
    primitive = dnnl.matmul
    parse = staticmethod(parse_matmul)

    def dims(self, p: MatmulDesc) -> dict:
        batch = [max(a, b) for a, b in zip(p.src[:-2], p.weights[:-2])]
        return {"src": list(p.src), "weights": list(p.weights),
                "dst": [*batch, p.src[-2], p.weights[-1]]}

    def pd(self, eng, p: MatmulDesc, setup: Setup):
        d = self.dims(p)
        md = dnnl.memory.desc
        return dnnl.matmul.primitive_desc(
            eng, md(d["src"], dt.f32, format_tag(setup.stag)),
            md(d["weights"], dt.f32, format_tag(setup.wtag)),
            md(d["dst"], dt.f32, format_tag(setup.dtag)), attr=attr_of(setup.post_ops))

    def reference(self, p: MatmulDesc, src, weights, dtype=np.float64):
        return reference.matmul(src, weights, dtype)

    @staticmethod
    def accumulation(p: MatmulDesc) -> int:
        return p.src[-1]


DRIVERS = {d.name: d for d in (Conv(), Matmul())}
