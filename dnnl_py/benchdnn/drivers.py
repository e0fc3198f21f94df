"""What the driver knows of each primitive kind: its problem syntax, how a problem becomes
a primitive descriptor, seeded inputs, and the numpy reference it is checked against."""
from __future__ import annotations

import numpy as np

import dnnl_py as dnnl

from . import reference
from .options import Setup
from .problems import ConvDesc, MatmulDesc, ProblemError, parse_conv, parse_matmul

dt, tag = dnnl.memory.data_type, dnnl.memory.format_tag
DEFAULT = Setup()
PLAIN = {1: tag.a, 2: tag.ab, 3: tag.abc, 4: tag.abcd, 5: tag.abcde, 6: tag.abcdef}


def format_tag(name: str) -> tag:
    try:
        return tag[name]
    except KeyError:
        raise ProblemError(f"unknown format tag {name!r} (oneDNN's names: any, nchw, nhwc, "
                           "abcd, ...)") from None


# benchdnn's generic tags: abx is plain, axb channels last, xba spatial dims outermost
_GENERIC = {"abx": lambda n: _letters(n), "axb": lambda n: "a" + _letters(n)[2:] + "b",
            "xba": lambda n: _letters(n)[2:] + "ba"}


def _letters(n: int) -> str:
    return "abcdefghijkl"[:n]


def tag_problem(name: str, ndims: int) -> str:
    """Why tag `name` cannot describe an ndims-dim memory, or ''."""
    letters = _GENERIC[name](ndims) if name in _GENERIC else name
    if name == "any" or letters.islower() and sorted(letters) == list(_letters(ndims)):
        return ""
    if letters.islower():
        return f"tag {name} does not describe {ndims} dims"
    if name not in tag.__members__:
        return f"blocked tag {name} (not one of dnnl_py's format tags)"
    if len({c.lower() for c in name if c.isalpha()}) != ndims:
        return f"tag {name} does not describe {ndims} dims"
    return ""


def memory_desc(dims: list, name: str, strides: tuple = ()) -> dnnl.memory.desc:
    """f32 memory of `dims` laid out as the tag says (benchdnn's --stag and friends: any,
    abx/axb/xba, any permutation of plain letters, dnnl_py's blocked tags) or with
    explicit `strides` (benchdnn's --strides)."""
    md = dnnl.memory.desc
    if strides:
        return md(dims, dt.f32, list(strides))
    letters = _GENERIC[name](len(dims)) if name in _GENERIC else name
    if name == "any" or not letters.islower():
        return md(dims, dt.f32, format_tag(name))
    out, step = [0] * len(dims), 1
    for letter in reversed(letters):           # innermost letter last
        d = ord(letter) - ord("a")
        out[d], step = step, step * dims[d]
    return md(dims, dt.f32, out)


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
        if setup.dir == "FWD_B":
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
            eng, prop, getattr(dnnl.algorithm, self._ALG[setup.alg]),
            memory_desc(d["src"], setup.stag), memory_desc(d["weights"], setup.wtag), bias,
            memory_desc(d["dst"], setup.dtag), strides=sp(p, p.s),
            dilates=sp(p, p.d), padding_l=sp(p, p.p), padding_r=sp(p, p.pr),
            attr=attr_of(setup.post_ops))

    def reference(self, p: ConvDesc, data: dict, dtype=np.float64):
        sp = self._spatial
        wei = data["weights"].reshape(p.g, p.oc // p.g, p.ic // p.g, *sp(p, p.k))
        return reference.conv_im2col(data["src"], wei, data.get("bias"), sp(p, p.s),
                                     sp(p, p.d), sp(p, p.p), sp(p, p.pr), dtype)

    @staticmethod
    def accumulation(p: ConvDesc) -> int:
        """How many products each output sums (what the error grows with)."""
        return p.ic // p.g * int(np.prod(p.k))


class Matmul:
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
            attr=attr_of(setup.post_ops))

    def reference(self, p: MatmulDesc, data: dict, dtype=np.float64):
        out = reference.matmul(data["src"], data["weights"], dtype)
        return out + data["bias"].astype(dtype) if "bias" in data else out

    @staticmethod
    def accumulation(p: MatmulDesc) -> int:
        return p.src[-1]


DRIVERS = {d.name: d for d in (Conv(), Matmul())}
