"""The memory-bound drivers: --pool, --eltwise, --binary, --softmax, --lnorm, --bnorm and
--concat, with benchdnn's problem syntax and options. Each is checked against a float64
numpy reference (reference.py) and timed in GB/s: bytes read and written once per run."""
from __future__ import annotations

import re

import numpy as np

import dnnl_py as dnnl

from . import reference
from .driver_base import Driver, memory_desc, tag_problem
from .options import Setup
from .problems import (
    BnormDesc,
    DimsDesc,
    DimsListDesc,
    PoolDesc,
    parse_bnorm,
    parse_dims,
    parse_dims_list,
    parse_pool,
)

# benchdnn's normalization epsilon
EPSILON = 1.0 / 16


def _prop(setup: Setup):
    return dnnl.prop_kind.forward_inference if setup.dir == "FWD_I" else \
        dnnl.prop_kind.forward_training


def _tags_problem(pairs) -> str:
    """Why one of (option, tag, ndims) cannot be laid out, or ''."""
    for option, name, ndims in pairs:
        why = tag_problem(name, ndims)
        if why:
            return f"--{option}={name}: {why}"
    return ""


class MemoryBound(Driver):
    work_unit = "bytes"

    def work(self, p, setup: Setup) -> float:
        return self.bytes_moved(p, setup)

    def accumulation(self, p, setup: Setup) -> int:
        return 1


class Pool(MemoryBound):
    """--pool: forward max or average pooling (--alg=max, avg_np, avg_p)."""
    name = "pool"
    primitive = dnnl.pooling_forward
    parse = staticmethod(parse_pool)
    _ALG = {"max": "pooling_max", "avg_np": "pooling_avg_exclude_padding",
            "avg_p": "pooling_avg_include_padding"}

    @staticmethod
    def _sp(p: PoolDesc, values: tuple) -> list:
        return list(values[3 - p.ndims_spatial:])

    def dims(self, p: PoolDesc, setup: Setup) -> dict:
        return {"src": [p.mb, p.ic, *self._sp(p, p.i)], "dst": [p.mb, p.ic, *self._sp(p, p.o)]}

    def unsupported(self, p: PoolDesc, setup: Setup) -> str:
        return _tags_problem([("tag", setup.tag, 2 + p.ndims_spatial)])

    def pd(self, eng, p: PoolDesc, setup: Setup):
        d, sp = self.dims(p, setup), self._sp
        return dnnl.pooling_forward.primitive_desc(
            eng, _prop(setup), getattr(dnnl.algorithm, self._ALG[setup.alg or "max"]),
            memory_desc(d["src"], setup.tag), memory_desc(d["dst"], setup.tag),
            sp(p, p.s), sp(p, p.k), sp(p, p.d), sp(p, p.p), sp(p, p.pr),
            attr=self.attr(p, setup))

    def reference(self, p: PoolDesc, data: dict, setup: Setup):
        sp = self._sp
        return reference.pool(data["src"], setup.alg or "max", sp(p, p.k), sp(p, p.s),
                              sp(p, p.d), sp(p, p.p), sp(p, p.pr))

    def accumulation(self, p: PoolDesc, setup: Setup) -> int:
        return int(np.prod(p.k))


class Eltwise(MemoryBound):
    """--eltwise: dst = f(src) with --alg, --alpha, --beta; --inplace=true runs src == dst."""
    name = "eltwise"
    primitive = dnnl.eltwise_forward
    parse = staticmethod(parse_dims)

    def dims(self, p: DimsDesc, setup: Setup) -> dict:
        return {"src": list(p.dims), "dst": list(p.dims)}

    def unsupported(self, p: DimsDesc, setup: Setup) -> str:
        alg = setup.alg or "relu"
        if not hasattr(dnnl.algorithm, "eltwise_" + alg):
            return f"--alg={alg}: not one of dnnl_py's eltwise algorithms (no *_dst " \
                   "variants: they differ from the plain ones in backward only)"
        return _tags_problem([("tag", setup.tag, len(p.dims))])

    def pd(self, eng, p: DimsDesc, setup: Setup):
        md = memory_desc(list(p.dims), setup.tag)
        return dnnl.eltwise_forward.primitive_desc(
            eng, _prop(setup), getattr(dnnl.algorithm, "eltwise_" + (setup.alg or "relu")),
            md, md, alpha=setup.alpha, beta=setup.beta, attr=self.attr(p, setup))

    def reference(self, p: DimsDesc, data: dict, setup: Setup):
        with np.errstate(all="ignore"):  # log(-1), 1 / 0: what the formulas give
            return reference.ELTWISE["eltwise_" + (setup.alg or "relu")](
                data["src"].astype(np.float64), setup.alpha, setup.beta)


class Binary(MemoryBound):
    """--binary: dst = src0 (op) src1, either broadcast along a dim where it is 1 (dst
    takes the larger); src1's missing trailing dims are 1, as benchdnn reads
    `32x17x2x3:32x17`."""
    name = "binary"
    primitive = dnnl.binary
    parse = staticmethod(parse_dims_list)
    args = {"src0": dnnl.ARG_SRC_0, "src1": dnnl.ARG_SRC_1, "dst": dnnl.ARG_DST}
    inplace_src = "src0"

    def dims(self, p: DimsListDesc, setup: Setup) -> dict:
        src0, src1 = p.parts[0], p.parts[1]
        src1 = tuple(src1) + (1,) * (len(src0) - len(src1))
        return {"src0": list(src0), "src1": list(src1),
                "dst": [max(a, b) for a, b in zip(src0, src1)]}

    def unsupported(self, p: DimsListDesc, setup: Setup) -> str:
        if len(p.parts) != 2:
            return f"{len(p.parts)} sources (binary takes 2)"
        d = self.dims(p, setup)
        if len(d["src1"]) != len(d["src0"]) or any(
                1 not in (a, b) and a != b for a, b in zip(d["src0"], d["src1"])):
            return f"src0 dims {d['src0']} and src1 dims {d['src1']} do not broadcast"
        stags = setup.stag.split(":")
        return _tags_problem([("stag", t, len(d["src0"])) for t in stags]
                             + [("dtag", setup.dtag, len(d["dst"]))])

    def pd(self, eng, p: DimsListDesc, setup: Setup):
        d = self.dims(p, setup)
        stags = setup.stag.split(":")
        stags += stags[-1:] * (2 - len(stags))   # one tag: every source's
        return dnnl.binary.primitive_desc(
            eng, getattr(dnnl.algorithm, "binary_" + (setup.alg or "add")),
            memory_desc(d["src0"], stags[0]), memory_desc(d["src1"], stags[1]),
            memory_desc(d["dst"], setup.dtag), attr=self.attr(p, setup))

    def reference(self, p: DimsListDesc, data: dict, setup: Setup):
        return reference.binary(setup.alg or "add", data["src0"], data["src1"])


class Softmax(MemoryBound):
    """--softmax: --alg=SOFTMAX or LOGSOFTMAX along --axis."""
    name = "softmax"
    primitive = dnnl.softmax_forward
    parse = staticmethod(parse_dims)

    def dims(self, p: DimsDesc, setup: Setup) -> dict:
        return {"src": list(p.dims), "dst": list(p.dims)}

    def unsupported(self, p: DimsDesc, setup: Setup) -> str:
        if not 0 <= setup.axis < len(p.dims):
            return f"--axis={setup.axis}: the problem has {len(p.dims)} dims"
        return _tags_problem([("stag", setup.stag, len(p.dims)),
                              ("dtag", setup.dtag, len(p.dims))])

    def pd(self, eng, p: DimsDesc, setup: Setup):
        alg = dnnl.algorithm.softmax_log if setup.alg == "logsoftmax" else \
            dnnl.algorithm.softmax_accurate
        return dnnl.softmax_forward.primitive_desc(
            eng, _prop(setup), alg, memory_desc(list(p.dims), setup.stag),
            memory_desc(list(p.dims), setup.dtag), setup.axis, attr=self.attr(p, setup))

    def reference(self, p: DimsDesc, data: dict, setup: Setup):
        return reference.softmax(data["src"], setup.axis, setup.alg == "logsoftmax")

    def accumulation(self, p: DimsDesc, setup: Setup) -> int:
        return p.dims[setup.axis] if 0 <= setup.axis < len(p.dims) else 1


_NORM_FLAGS = {"G": "use_global_stats", "C": "use_scale", "H": "use_shift",
               "R": "fuse_norm_relu"}
_NORM_ARGS = {"src": dnnl.ARG_SRC, "dst": dnnl.ARG_DST, "mean": dnnl.ARG_MEAN,
              "variance": dnnl.ARG_VARIANCE, "scale": dnnl.ARG_SCALE, "shift": dnnl.ARG_SHIFT}


class _Norm(MemoryBound):
    """What layer and batch normalization share: --flags (G global statistics, C scale,
    H shift, R fused ReLU), statistics written by forward training, epsilon 1/16."""
    args = _NORM_ARGS

    def _flags(self, setup: Setup):
        out = dnnl.normalization_flags.none
        for letter in setup.flags:
            out |= getattr(dnnl.normalization_flags, _NORM_FLAGS[letter])
        return out

    def _stats_out(self, setup: Setup) -> bool:
        """Forward training without global statistics writes the ones it computes."""
        return setup.dir != "FWD_I" and "G" not in setup.flags

    def outputs(self, p, setup: Setup) -> tuple:
        return ("dst", "mean", "variance") if self._stats_out(setup) else ("dst",)

    def _vectors(self, p, setup: Setup, stat_dims: list, channels: int) -> dict:
        out = {}
        if "G" in setup.flags or self._stats_out(setup):
            out["mean"] = out["variance"] = stat_dims
        if "C" in setup.flags:
            out["scale"] = [channels]
        if "H" in setup.flags:
            out["shift"] = [channels]
        return out

    def fill(self, data: dict, p, setup: Setup) -> None:
        if "variance" in data:  # a variance is positive: |N(0,1)| + 0.25
            data["variance"] = np.abs(data["variance"]) + np.float32(0.25)

    def unsupported(self, p, setup: Setup) -> str:
        bad = set(setup.flags) - set(_NORM_FLAGS)
        if bad:
            return f"--flags={setup.flags}: {''.join(sorted(bad))} not one of dnnl_py's " \
                   "normalization flags"
        return ""

    def _normalize(self, data: dict, setup: Setup, axes: tuple, stat_shape: tuple,
                   vec_shape: tuple) -> dict:
        given = "G" in setup.flags
        dst, mean, var = reference.normalize(
            data["src"], data["mean"] if given else None, data["variance"] if given else None,
            data.get("scale"), data.get("shift"), EPSILON, axes, stat_shape, vec_shape)
        if "R" in setup.flags:
            dst = np.maximum(dst, 0)
        return {"dst": dst, "mean": mean, "variance": var}


class Lnorm(_Norm):
    """--lnorm: layer normalization over the last dim; --stat_tag lays out the
    statistics."""
    name = "lnorm"
    primitive = dnnl.layer_normalization_forward
    parse = staticmethod(parse_dims)

    def dims(self, p: DimsDesc, setup: Setup) -> dict:
        return {"src": list(p.dims), "dst": list(p.dims),
                **self._vectors(p, setup, list(p.dims[:-1]), p.dims[-1])}

    def unsupported(self, p: DimsDesc, setup: Setup) -> str:
        if "R" in setup.flags:
            return "--flags=R: layer normalization has no fused ReLU"
        return super().unsupported(p, setup) or _tags_problem(
            [("tag", setup.tag, len(p.dims))]
            + ([("stat_tag", setup.stat_tag, len(p.dims) - 1)] if len(p.dims) > 1 else []))

    def pd(self, eng, p: DimsDesc, setup: Setup):
        md = memory_desc(list(p.dims), setup.tag)
        stat = None if setup.stat_tag == "any" or len(p.dims) < 2 else \
            memory_desc(list(p.dims[:-1]), setup.stat_tag)   # 1 dim: the library says why
        return dnnl.layer_normalization_forward.primitive_desc(
            eng, _prop(setup), md, md, stat, EPSILON, self._flags(setup),
            attr=self.attr(p, setup))

    def reference(self, p: DimsDesc, data: dict, setup: Setup):
        n = len(p.dims)
        return self._normalize(data, setup, (n - 1,), tuple(p.dims[:-1]) + (1,),
                               (1,) * (n - 1) + (p.dims[-1],))

    def accumulation(self, p: DimsDesc, setup: Setup) -> int:
        return p.dims[-1]


class Bnorm(_Norm):
    """--bnorm: batch normalization over the minibatch and spatial dims, per channel."""
    name = "bnorm"
    primitive = dnnl.batch_normalization_forward
    parse = staticmethod(parse_bnorm)

    def dims(self, p: BnormDesc, setup: Setup) -> dict:
        return {"src": list(p.dims), "dst": list(p.dims),
                **self._vectors(p, setup, [p.ic], p.ic)}

    def unsupported(self, p: BnormDesc, setup: Setup) -> str:
        if "A" in setup.flags:
            return "--flags=A: fuse_norm_add_relu (dnnl_py has no second source for it)"
        return super().unsupported(p, setup) or _tags_problem([("tag", setup.tag,
                                                                len(p.dims))])

    def pd(self, eng, p: BnormDesc, setup: Setup):
        md = memory_desc(list(p.dims), setup.tag)
        return dnnl.batch_normalization_forward.primitive_desc(
            eng, _prop(setup), md, md, EPSILON, self._flags(setup),
            attr=self.attr(p, setup))

    def reference(self, p: BnormDesc, data: dict, setup: Setup):
        n = len(p.dims)
        shape = (1, p.ic) + (1,) * (n - 2)
        return self._normalize(data, setup, (0,) + tuple(range(2, n)), shape, shape)

    def accumulation(self, p: BnormDesc, setup: Setup) -> int:
        return int(np.prod(p.dims)) // p.ic


class Concat(MemoryBound):
    """--concat: the sources joined along --axis; --dtag=undef lets the library choose dst
    (no dst descriptor given)."""
    name = "concat"
    primitive = dnnl.concat
    parse = staticmethod(parse_dims_list)

    def arg(self, name: str) -> int:
        if re.fullmatch(r"src\d+", name):
            return dnnl.ARG_MULTIPLE_SRC + int(name[3:])
        return super().arg(name)

    def dims(self, p: DimsListDesc, setup: Setup) -> dict:
        out = {f"src{i}": list(d) for i, d in enumerate(p.parts)}
        dst = list(p.parts[0])
        if 0 <= setup.axis < len(dst):
            dst[setup.axis] = sum(d[setup.axis] for d in p.parts)
        return {**out, "dst": dst}

    def unsupported(self, p: DimsListDesc, setup: Setup) -> str:
        n, axis = len(p.parts[0]), setup.axis
        if not 0 <= axis < n:
            return f"--axis={axis}: the problem has {n} dims"
        if any(len(d) != n or any(a != b for j, (a, b) in enumerate(zip(d, p.parts[0]))
                                  if j != axis) for d in p.parts):
            return f"the sources' dims differ outside --axis={axis}"
        stags = setup.stag.split(":")
        return _tags_problem([("stag", t, n) for t in stags]
                             + ([("dtag", setup.dtag, n)] if setup.dtag != "undef" else []))

    def pd(self, eng, p: DimsListDesc, setup: Setup):
        d = self.dims(p, setup)
        stags = setup.stag.split(":")
        stags += stags[-1:] * (len(p.parts) - len(stags))
        srcs = [memory_desc(list(s), t) for s, t in zip(p.parts, stags)]
        attr = self.attr(p, setup)
        if setup.dtag == "undef":
            return dnnl.concat.primitive_desc(eng, setup.axis, srcs, attr)
        return dnnl.concat.primitive_desc(eng, memory_desc(d["dst"], setup.dtag),
                                          setup.axis, srcs, attr)

    def reference(self, p: DimsListDesc, data: dict, setup: Setup):
        return np.concatenate([data[f"src{i}"].astype(np.float64)
                               for i in range(len(p.parts))], axis=setup.axis)


MEMORY_BOUND_DRIVERS = (Pool(), Eltwise(), Binary(), Softmax(), Lnorm(), Bnorm(), Concat())
