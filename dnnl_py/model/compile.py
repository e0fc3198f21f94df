"""compile_model's planner: a read Model -> a list of (primitive, arguments) over one
arena, made once; running it is a loop of execute() calls.

What planning does, in the order the nodes come:
- the GELU pattern (x * 0.5 * (1 + erf(x / sqrt 2))) becomes one gelu_erf;
- a Conv absorbs the BatchNormalization after it (folded into its weights and bias), and
  a Conv, MatMul or Gemm the chain of single-consumer ops after it: a constant bias Add,
  eltwise ops (Relu, Clip, Sigmoid, Tanh, GELU, scalar Mul/Div/Add/Sub) and one residual
  Add as a `sum` post-op, whose other operand is then in dst before the primitive runs
  (the same buffer when that operand dies there, else a copy);
- layouts: convolutions and matmul weights take format `any`; a reorder is added only
  where a consumer wants another layout than its producer wrote; Reshape, Flatten,
  (Un)Squeeze, Identity and Cast are views of the same bytes;
- weights are reordered once, here (or come from a cache entry: see Builder);
- every activation gets a region of one arena: a region is free again after the last
  step that reads any view of it, and regions are packed by lifetime (largest first,
  lowest offset that no live region overlaps).
"""
from __future__ import annotations

import contextlib
import math
from typing import Callable, Optional

import numpy as np

from .. import tuning
from .._errors import error, invalid, unimplemented
from ..attr import post_ops, primitive_attr
from ..batch_normalization import batch_normalization_forward
from ..binary import binary
from ..concat import concat
from ..convolution import convolution_forward
from ..eltwise import eltwise_forward
from ..engine import engine, stream
from ..kinds import (
    ARG_BIAS,
    ARG_DST,
    ARG_MEAN,
    ARG_MULTIPLE_SRC,
    ARG_SCALE,
    ARG_SHIFT,
    ARG_SRC,
    ARG_SRC_0,
    ARG_SRC_1,
    ARG_VARIANCE,
    ARG_WEIGHTS,
    algorithm,
    normalization_flags,
    prop_kind,
)
from ..layer_normalization import layer_normalization_forward
from ..matmul import matmul
from ..memory import memory
from ..memory_desc import data_type, desc, format_tag, plain_desc, plain_order
from ..pooling import pooling_forward
from ..record import field, record
from ..reorder import reorder
from ..softmax import softmax_forward
from .read import Model, Node
from .shapes import perm_of

F32 = data_type.f32
ALIGN = 4096  # bytes: an OpenCL sub-buffer's origin is aligned to the device's base address
# alignment (up to 4096 bits on GPUs); on the CPU, regions start on pages
_FLT_MAX = float(np.finfo(np.float32).max)
_INFER = prop_kind.forward_inference
# the library picks the kernel (Winograd for ResNet's early 3x3s: cpu:wino_2x3)
CONV_ALGORITHM = algorithm.convolution_auto
_ELTWISE = {"Relu": algorithm.eltwise_relu, "Sigmoid": algorithm.eltwise_logistic,
            "Tanh": algorithm.eltwise_tanh, "Gelu": algorithm.eltwise_gelu_erf}
_COMMUTATIVE = {"Add": algorithm.binary_add, "Mul": algorithm.binary_mul}
_BINARY = {**_COMMUTATIVE, "Sub": algorithm.binary_sub, "Div": algorithm.binary_div}


class Stale(Exception):
    """A cache entry does not fit what planning asks of it: a miss."""


class Builder:
    """Where a plan's primitives and weights come from. Cold: created (tuned when asked)
    and weights reordered, both remembered for a cache entry. From an entry
    (`entry` given): each primitive from its blob, each weight straight from the entry's
    bytes (OPTIMIZE_SPEED) or computed and reordered again (OPTIMIZE_SIZE)."""

    def __init__(self, eng: engine, strm: stream, entry=None, record: bool = False):
        self.eng, self.strm, self.entry, self.record = eng, strm, entry, record
        self.blobs: list = []
        self.weights: list = []  # (desc, bytes-like) as the entry stores them

    def primitive(self, cls, pd):
        if self.entry is not None:
            i = len(self.blobs)
            if i >= len(self.entry.blobs):
                raise Stale(f"the entry holds {len(self.entry.blobs)} primitives, the plan "
                            "needs more")
            blob = self.entry.blobs[i]
            self.blobs.append(blob)
            try:
                return cls(pd, blob) if blob else cls(pd)
            except error as e:
                raise Stale(f"primitive {i} ({pd.get_kind().name}): {e}") from None
        prim = cls(pd)
        blob = b""
        if self.record:
            try:
                blob = prim.get_cache_blob()
            except error:
                pass  # a kind without blobs is simply created again
        self.blobs.append(blob)
        return prim

    def weight(self, md: desc, compute: Callable[[], np.ndarray]) -> memory:
        """A memory of layout md holding compute()'s values (logical dims of md)."""
        if self.entry is not None and self.entry.weights is not None:
            i = len(self.weights)
            if i >= len(self.entry.weights):
                raise Stale("the entry holds fewer weights than the plan needs")
            stored, data = self.entry.weights[i]
            self.weights.append((stored, data))
            if stored.dims != md.dims or len(data) != stored.get_size():
                raise Stale(f"weight {i}: the entry's {stored} does not fit {md}")
            # the entry's bytes in place where the device shares the host's memory
            stored_mem = memory(stored, self.eng, self.eng._runtime.wrap_constant(
                stored, np.frombuffer(data, np.float32)))
            return stored_mem if stored == md else self._reorder(stored_mem, md)
        # the kernels take writable buffers; a model's tensors may be a read-only map
        arr = np.require(compute(), np.float32, ["C", "W"])
        if arr.shape != tuple(md.dims):
            arr = arr.reshape(md.dims)
        plain = plain_desc(md.dims, F32, plain_order(len(md.dims)))
        src = memory(plain, self.eng, arr)
        dst = src if md == plain else self._reorder(src, md)
        if self.record:  # the reordered bytes themselves (read back from a device):
            # used as they are at load, with no reorder (nor its zero-filled destination)
            self.weights.append((md, self.eng._runtime.read_raw(md, dst.get_data_handle())))
        return dst

    def _reorder(self, src: memory, md: desc) -> memory:
        dst = memory(md, self.eng)
        with cpu_tuning(False):  # a weight's one-off copy loop: nothing to measure
            prim = reorder(src, dst)
        prim.execute(self.strm, src, dst)
        return dst


@contextlib.contextmanager
def cpu_tuning(on: bool):
    """Tuning is process-wide (dnnl.set_cpu_tuning): on for this compile only."""
    before = tuning.get_cpu_tuning()
    tuning.set_cpu_tuning(on)
    try:
        yield
    finally:
        tuning.set_cpu_tuning(before)


@record
class _Region:
    """Bytes of the arena shared by a value and its views."""
    size: int
    first: int
    pending: int          # consumers (of any view) not planned yet
    last: int = -1
    fixed: bool = False   # a model input or output: never shared
    offset: int = 0


@record
class _Value:
    """A value of the graph while planning: its memory descriptor and where it lives."""
    md: desc
    region: _Region


@record
class Plan:
    """What CompiledModel runs: steps over memories of one arena."""
    eng: engine
    strm: stream
    steps: list                     # (primitive, {ARG_*: memory})
    runs: list                      # each step's execute, its arguments checked once
    inputs: list                    # (Port, memory in the arena, reorder primitive)
    outputs: list                   # (Port, memory, or a constant np.ndarray)
    arena_bytes: int
    blobs: list = field(default_factory=list)
    weights: list = field(default_factory=list)
    keep: list = field(default_factory=list)  # what the memories' buffers live in


def plan(model: Model, eng: engine, strm: stream, builder: Builder) -> Plan:
    return _Planner(model, eng, strm, builder).run()


class _Planner:
    def __init__(self, model: Model, eng: engine, strm: stream, builder: Builder):
        self.m, self.eng, self.strm, self.b = model, eng, strm, builder
        self.nodes = _fuse_gelu(list(model.nodes), model)
        self.consumers: dict = {}
        for node in self.nodes:
            for i in node.inputs:
                if i:
                    self.consumers.setdefault(i, []).append(node)
        self.outputs = {p.name for p in model.outputs}
        self.values: dict = {}    # name -> _Value
        self.regions: list = []
        self.steps: list = []     # (primitive, {ARG: value name | memory})
        self.done: set = set()
        self.converted: dict = {}  # (name, desc) -> name of the reordered copy

    # -- values and regions -------------------------------------------------------------
    def _uses(self, name: str) -> int:
        return len(self.consumers.get(name, [])) + (name in self.outputs)

    def _new(self, name: str, md: desc) -> None:
        r = _Region(md.get_size(), len(self.steps), self._uses(name),
                    fixed=name in self.outputs)
        self.regions.append(r)
        self.values[name] = _Value(md, r)

    def _view(self, name: str, md: desc, of: str) -> None:
        r = self.values[of].region
        r.pending += self._uses(name)
        r.fixed |= name in self.outputs
        r.size = max(r.size, md.get_size())
        self.values[name] = _Value(md, r)

    def _use(self, name: str) -> None:
        r = self.values[name].region
        r.pending -= 1
        r.last = max(r.last, len(self.steps))

    def _shape(self, name: str) -> tuple:
        return tuple(self.m.values[name][0])

    def _const(self, node: Node, i: int, what: str) -> Optional[np.ndarray]:
        if i >= len(node.inputs) or not node.inputs[i]:
            return None
        arr = self.m.consts.get(node.inputs[i])
        if arr is None:
            raise unimplemented(f"node {node.name!r} (op {node.op}): its {what} is computed "
                                "at run time; this layer takes it only as a constant")
        return arr

    def _act(self, node: Node, name: str) -> str:
        """name, checked to be a float32 value computed at run time."""
        if name not in self.values:
            if name in self.m.consts:
                raise unimplemented(f"node {node.name!r} (op {node.op}): input {name!r} "
                                    "is a constant where this layer takes a computed value")
            raise invalid(f"node {node.name!r}: input {name!r} has no value")
        if name in self.m.values and self.m.values[name][1] != np.float32:
            raise unimplemented(f"node {node.name!r} (op {node.op}): input {name!r} is "
                                f"{self.m.values[name][1]}; computed values must be float32")
        return name

    def _const_memory(self, name: str) -> tuple:
        """(desc, memory) of a constant used where a computed value goes (a concat's
        source)."""
        arr = self.m.consts[name].astype(np.float32)
        md = plain_desc(arr.shape or (1,), F32, plain_order(max(arr.ndim, 1)))
        return md, self.b.weight(md, lambda: arr.reshape(md.dims))

    def _as(self, name: str, md: desc) -> str:
        """`name` in layout md: itself, or a reordered copy (made once per layout)."""
        if self.values[name].md == md:
            return name
        key = (name, md)
        if key not in self.converted:
            copy = f"{name}#{md.tag_str()}"
            pd = reorder.primitive_desc(self.eng, self.values[name].md, self.eng, md)
            prim = self.b.primitive(reorder, pd)
            self._use(name)
            self._new(copy, md)
            # which later consumers read the copy is not known here: never reused in place
            self.values[copy].region.pending = 1 << 30
            self.steps.append((prim, {ARG_SRC: name, ARG_DST: copy}))
            self.converted[key] = copy
        return self.converted[key]

    def _row_major(self, name: str) -> str:
        md = self.values[name].md
        if _is_row_major(md):
            return name
        return self._as(name, plain_desc(md.dims, F32, plain_order(len(md.dims))))

    # -- the walk ---------------------------------------------------------------------
    def run(self) -> Plan:
        m = self.m
        for p in m.inputs:
            if p.dtype != np.float32:
                raise unimplemented(f"input {p.name!r}: {p.dtype} (float32 inputs only)")
            self._new(p.name, plain_desc(p.shape, F32, plain_order(len(p.shape))))
            self.values[p.name].region.fixed = True
        for node in self.nodes:
            if id(node) in self.done:
                continue
            handler = getattr(self, "_op_" + node.op.replace(".", "_"), None)
            if handler is None:
                raise unimplemented(f"node {node.name!r} (op {node.op}): "
                                    + _WHY_NOT.get(node.op, "not supported by the model layer"))
            self.done.add(id(node))
            handler(node)
        return self._finish()

    def _sole_consumer(self, name: str) -> Optional[Node]:
        users = self.consumers.get(name, [])
        if len(users) != 1 or name in self.outputs or id(users[0]) in self.done:
            return None
        return users[0]

    def _chain(self, out: str, bias_axis: Optional[int] = None, bn: bool = False,
               sum_ok: bool = False):
        """Absorbs the single-consumer ops after `out` that become post-ops: returns
        (ops, bias, bn node, residual name, final output name)."""
        ops, bias, bn_node, residual = [], None, None, None
        while True:
            c = self._sole_consumer(out)
            if c is None:
                break
            other = [i for i in c.inputs if i and i != out]
            elt = self._eltwise_of(c, out)
            if bn and c.op == "BatchNormalization" and not ops and bn_node is None and all(
                    i in self.m.consts for i in c.inputs[1:5]):
                bn_node = c
            elif elt is not None:
                ops.append(elt)
            elif (bias_axis is not None and c.op == "Add" and not ops and bias is None
                  and len(other) == 1 and other[0] in self.m.consts
                  and _bias_of(self.m.consts[other[0]], self._shape(out), bias_axis)
                  is not None):
                bias = _bias_of(self.m.consts[other[0]], self._shape(out), bias_axis)
            elif (sum_ok and c.op == "Add" and residual is None and len(other) == 1
                  and other[0] in self.values and self._shape(other[0]) == self._shape(out)
                  and c.inputs.count(out) == 1):
                residual = other[0]
                ops.append(("sum",))
            else:
                break
            self.done.add(id(c))
            out = c.outputs[0]
        return ops, bias, bn_node, residual, out

    def _eltwise_of(self, c: Node, x: str):
        """(alg, alpha, beta) when node c applied to x alone is one eltwise op."""
        if c.op in _ELTWISE and c.inputs[0] == x:
            return (_ELTWISE[c.op], 0.0, 0.0)
        if c.op == "Clip" and c.inputs[0] == x:
            lo = self._scalar(c, 1, c.attrs.get("min", -_FLT_MAX))
            hi = self._scalar(c, 2, c.attrs.get("max", _FLT_MAX))
            if lo is not None and hi is not None:
                return (algorithm.eltwise_clip, lo, hi)
            return None
        if c.op in _BINARY and len(c.inputs) == 2 and c.inputs.count(x) == 1:
            j = 1 - c.inputs.index(x)
            s = self._scalar(c, j, None)
            if s is None:
                return None
            first = j == 1  # x op s
            if c.op == "Mul":
                return (algorithm.eltwise_linear, s, 0.0)
            if c.op == "Add":
                return (algorithm.eltwise_linear, 1.0, s)
            if c.op == "Sub":
                return (algorithm.eltwise_linear, 1.0, -s) if first else \
                    (algorithm.eltwise_linear, -1.0, s)
            if c.op == "Div" and first and s != 0:
                return (algorithm.eltwise_linear, 1.0 / s, 0.0)
        return None

    def _scalar(self, node: Node, i: int, default):
        if i >= len(node.inputs) or not node.inputs[i]:
            return default
        arr = self.m.consts.get(node.inputs[i])
        if arr is None or arr.size != 1:
            return None
        return float(arr.reshape(-1)[0])

    def _attr(self, ops: list) -> primitive_attr:
        po = post_ops()
        for op in ops:
            if op[0] == "sum":
                po.append_sum(1.0)
            else:
                po.append_eltwise(*op)
        attr = primitive_attr()
        attr.set_post_ops(po)
        return attr

    def _emit(self, cls, pd, args: dict, out: str, residual: Optional[str] = None,
              md: Optional[desc] = None) -> None:
        """Adds the step; with a residual (a sum post-op), dst must hold it first: dst is
        the residual's own region when nothing reads it afterwards (and the step does
        not read it as a source), else a copy of it made just before."""
        prim = self.b.primitive(cls, pd)
        md = md or pd.dst_desc()
        srcs = [a for a in args.values() if isinstance(a, str)]
        if residual is None:
            self._new(out, md)
        else:
            r = self.values[residual]
            if r.md == md and r.region.pending == 1 and not r.region.fixed and all(
                    self.values[s].region is not r.region for s in srcs):
                self._use(residual)
                self._view(out, md, residual)
            else:
                self._new(out, md)
                copy = self.b.primitive(reorder, reorder.primitive_desc(self.eng, r.md,
                                                                        self.eng, md))
                self._use(residual)
                self.steps.append((copy, {ARG_SRC: residual, ARG_DST: out}))
        for a in srcs:
            self._use(a)
        args[ARG_DST] = out
        self.steps.append((prim, args))

    # -- ops --------------------------------------------------------------------------
    def _op_Conv(self, node: Node) -> None:
        x = node.inputs[0]
        w = self._const(node, 1, "weights")
        b = self._const(node, 2, "bias")
        ops, bias2, bn, residual, out = self._chain(node.outputs[0], bias_axis=1, bn=True,
                                                    sum_ok=True)
        g = node.attrs.get("group", 1)
        oc, nsp = w.shape[0], w.ndim - 2
        consts = self.m.consts

        def folded():
            wf, bf = w.astype(np.float64), (np.zeros(oc) if b is None else b.astype(np.float64))
            if bn is not None:
                scale, shift, mean, var = (consts[i].astype(np.float64) for i in bn.inputs[1:5])
                k = scale / np.sqrt(var + bn.attrs.get("epsilon", 1e-5))
                wf = wf * k.reshape((-1,) + (1,) * (w.ndim - 1))
                bf = (bf - mean) * k + shift
            if bias2 is not None:
                bf = bf + bias2
            return wf, bf

        wdims = w.shape if g == 1 else (g, oc // g) + w.shape[1:]
        shape_in, shape_out = self._shape(x), self._shape(out)
        anyd = format_tag.any
        has_bias = b is not None or bn is not None or bias2 is not None
        pads = node.attrs["pads"]
        pd = convolution_forward.primitive_desc(
            self.eng, _INFER, CONV_ALGORITHM, desc(shape_in, F32, anyd),
            desc(wdims, F32, anyd), desc((oc,), F32, format_tag.a) if has_bias else None,
            desc(shape_out, F32, anyd), list(node.attrs["strides"]),
            [d - 1 for d in node.attrs["dilations"]], list(pads[:nsp]), list(pads[nsp:]),
            self._attr(ops))
        src = self._as(self._act(node, x), pd.src_desc())
        args = {ARG_SRC: src,
                ARG_WEIGHTS: self.b.weight(pd.weights_desc(),
                                           lambda: folded()[0].reshape(wdims))}
        if has_bias:
            args[ARG_BIAS] = self.b.weight(pd.bias_desc(), lambda: folded()[1])
        self._emit(convolution_forward, pd, args, out, residual)

    def _op_MatMul(self, node: Node) -> None:
        a, bname = node.inputs
        if a in self.m.consts:
            raise unimplemented(f"node {node.name!r} (op MatMul): a constant first operand")
        ops, bias, _, residual, out = self._chain(node.outputs[0], bias_axis=-1, sum_ok=True)
        self._matmul(node, a, bname, None, bias, ops, residual, out)

    def _op_Gemm(self, node: Node) -> None:
        if node.attrs.get("transA", 0):
            raise unimplemented(f"node {node.name!r} (op Gemm): transA=1")
        w = self._const(node, 1, "B")
        c = self._const(node, 2, "C")
        alpha, beta = node.attrs.get("alpha", 1.0), node.attrs.get("beta", 1.0)
        n = self._shape(node.outputs[0])[1]
        bias = None
        if c is not None:
            bias = _bias_of(c, (1, n), -1)
            if bias is None:
                raise unimplemented(f"node {node.name!r} (op Gemm): C of shape "
                                    f"{list(c.shape)} (only a bias over N)")
            bias = bias * beta
        ops, bias2, _, residual, out = self._chain(
            node.outputs[0], bias_axis=-1 if bias is None else None, sum_ok=True)
        w = w.T if node.attrs.get("transB", 0) else w
        self._matmul(node, node.inputs[0], None, (w * alpha) if alpha != 1 else w,
                     bias if bias is not None else bias2, ops, residual, out)

    def _matmul(self, node, a, bname, wconst, bias, ops, residual, out) -> None:
        shape_out = self._shape(out)
        nd = len(shape_out)
        if wconst is None and bname in self.m.consts:
            wconst = self.m.consts[bname]
        av = self._viewed(node, a, nd)
        attr = self._attr(ops)
        bias_md = None
        if bias is not None:
            bias_md = plain_desc((1,) * (nd - 1) + (shape_out[-1],), F32, plain_order(nd))
        if wconst is not None:
            wdims = (1,) * (nd - wconst.ndim) + wconst.shape
            wmd = desc(wdims, F32, format_tag.any)
        else:
            bname = self._viewed(node, bname, nd)
            wmd = self.values[bname].md
        pd = self._matmul_pd(av, wmd, bias_md, shape_out, attr)
        if pd is None:  # a layout the GEMM does not take: row-major copies
            av = self._row_major(av)
            if wconst is None:
                bname = self._row_major(bname)
                wmd = self.values[bname].md
            pd = self._matmul_pd(av, wmd, bias_md, shape_out, attr, strict=True)
        args = {ARG_SRC: self._as(av, pd.src_desc())}
        if wconst is not None:
            args[ARG_WEIGHTS] = self.b.weight(pd.weights_desc(),
                                              lambda: wconst.reshape(wdims))
        else:
            args[ARG_WEIGHTS] = self._as(bname, pd.weights_desc())
        if bias is not None:
            args[ARG_BIAS] = self.b.weight(pd.bias_desc(),
                                           lambda: np.reshape(bias, bias_md.dims))
        self._emit(matmul, pd, args, out, residual)

    def _matmul_pd(self, a, wmd, bias_md, shape_out, attr, strict=False):
        try:
            return matmul.primitive_desc(self.eng, self.values[a].md, wmd,
                                         bias_desc=bias_md,
                                         dst_desc=desc(shape_out, F32, format_tag.any),
                                         attr=attr)
        except error:
            if strict:
                raise
            return None

    def _viewed(self, node: Node, name: str, nd: int) -> str:
        """`name` with leading 1s up to nd dims (a view of its row-major bytes)."""
        name = self._act(node, name)
        shape = self.values[name].md.dims
        if len(shape) == nd:
            return name
        src = self._row_major(name)
        view = f"{name}#{nd}d"
        if view not in self.values:
            dims = (1,) * (nd - len(shape)) + tuple(shape)
            self._use(src)  # this node's use of name: it reads the view instead
            self._view(view, plain_desc(dims, F32, plain_order(nd)), src)
        # a later node asking for the same view leaves its use of name pending: the
        # region is then never taken over in place, which is the safe side
        self.values[view].region.pending += 1
        return view

    def _op_BatchNormalization(self, node: Node) -> None:
        x = self._act(node, node.inputs[0])
        c = self._shape(x)[1]
        md = self.values[x].md
        flags = (normalization_flags.use_global_stats | normalization_flags.use_scale
                 | normalization_flags.use_shift)
        pd = batch_normalization_forward.primitive_desc(
            self.eng, _INFER, md, md, float(node.attrs.get("epsilon", 1e-5)), flags)
        args = {ARG_SRC: x}
        for arg, i in ((ARG_SCALE, 1), (ARG_SHIFT, 2), (ARG_MEAN, 3), (ARG_VARIANCE, 4)):
            arr = self._const(node, i, "statistics")
            args[arg] = self.b.weight(desc((c,), F32, format_tag.a), lambda a=arr: a)
        self._emit(batch_normalization_forward, pd, args, node.outputs[0])

    def _eltwise(self, node: Node, alg, alpha, beta) -> None:
        x = self._act(node, node.inputs[0])
        ops, _, _, _, out = self._chain(node.outputs[0])
        md = self.values[x].md
        pd = eltwise_forward.primitive_desc(self.eng, _INFER, alg, md, md, alpha, beta,
                                            self._attr(ops))
        self._emit(eltwise_forward, pd, {ARG_SRC: x}, out)

    def _op_Relu(self, node):
        self._eltwise(node, *self._eltwise_of(node, node.inputs[0]))

    _op_Sigmoid = _op_Tanh = _op_Gelu = _op_Relu

    def _op_Clip(self, node):
        elt = self._eltwise_of(node, node.inputs[0])
        if elt is None:
            raise unimplemented(f"node {node.name!r} (op Clip): min and max must be "
                                "constant scalars")
        self._eltwise(node, *elt)

    def _op_Add(self, node: Node) -> None:
        ins = [i for i in node.inputs if i]
        for x in ins:  # x op scalar: an eltwise
            if x not in self.m.consts:
                elt = self._eltwise_of(node, x)
                if elt is not None and len(ins) == 2:
                    return self._eltwise(_with_input(node, x), *elt)
        out = node.outputs[0]
        shape_out = self._shape(out)
        a, b = ins
        if self._shape(a) != shape_out or a in self.m.consts:
            if node.op not in _COMMUTATIVE:
                raise unimplemented(f"node {node.name!r} (op {node.op}): the first operand "
                                    f"{list(self._shape(a))} is constant or broadcast; only "
                                    "the second may be")
            a, b = b, a
        if self._shape(a) != shape_out or a in self.m.consts:
            raise unimplemented(f"node {node.name!r} (op {node.op}): both operands are "
                                "broadcast or constant")
        nd = len(shape_out)
        ops, _, _, _, out = self._chain(out)
        a = self._act(node, a)
        amd = self.values[a].md
        if b in self.m.consts:
            arr = self.m.consts[b].astype(np.float32)
            bdims = (1,) * (nd - arr.ndim) + arr.shape
            bmd = plain_desc(bdims, F32, amd.tag_str() if amd.is_plain() else
                             plain_order(nd))
            bval = self.b.weight(bmd, lambda: arr.reshape(bdims))
        else:
            b = self._viewed(node, b, nd)
            bmd, bval = self.values[b].md, b
        dst = plain_desc(shape_out, F32, amd.tag_str())
        pd = binary.primitive_desc(self.eng, _BINARY[node.op], amd, bmd, dst, self._attr(ops))
        self._emit(binary, pd, {ARG_SRC_0: a, ARG_SRC_1: bval}, out, md=dst)

    _op_Sub = _op_Mul = _op_Div = _op_Add

    def _pool(self, node: Node, alg, kernel, strides, pads, dil) -> None:
        x = self._act(node, node.inputs[0])
        md = self.values[x].md
        shape_in, shape_out = md.dims, self._shape(node.outputs[0])
        nsp = len(kernel)
        pl, pr = list(pads[:nsp]), list(pads[nsp:])
        for i in range(nsp):  # ceil_mode: the right padding that gives ONNX's output size
            ext = dil[i] * (kernel[i] - 1) + 1
            pr[i] = max(pr[i], (shape_out[2 + i] - 1) * strides[i] + ext - shape_in[2 + i]
                        - pl[i])
        if alg == algorithm.pooling_avg_include_padding and pr != list(pads[nsp:]):
            # ONNX counts the explicit pads in the average, not ceil_mode's extension
            if any(pads):
                raise unimplemented(f"node {node.name!r} (op {node.op}): ceil_mode with "
                                    "count_include_pad and explicit pads")
            alg = algorithm.pooling_avg_exclude_padding  # no explicit pads to count
        dst = plain_desc(shape_out, F32, md.tag_str())
        pd = pooling_forward.primitive_desc(self.eng, _INFER, alg, md, dst, list(strides),
                                            list(kernel), [d - 1 for d in dil], pl, pr)
        self._emit(pooling_forward, pd, {ARG_SRC: x}, node.outputs[0], md=dst)

    def _op_MaxPool(self, node: Node) -> None:
        if len(node.outputs) > 1 and node.outputs[1]:
            raise unimplemented(f"node {node.name!r} (op MaxPool): the Indices output")
        a = node.attrs
        self._pool(node, algorithm.pooling_max, a["kernel_shape"], a["strides"], a["pads"],
                   a["dilations"])

    def _op_AveragePool(self, node: Node) -> None:
        a = node.attrs
        alg = (algorithm.pooling_avg_include_padding if a.get("count_include_pad", 0)
               else algorithm.pooling_avg_exclude_padding)
        self._pool(node, alg, a["kernel_shape"], a["strides"], a["pads"], a["dilations"])

    def _op_GlobalAveragePool(self, node: Node) -> None:
        sp = self._shape(node.inputs[0])[2:]
        self._pool(node, algorithm.pooling_avg_exclude_padding, sp, [1] * len(sp),
                   [0] * 2 * len(sp), [1] * len(sp))

    def _op_Softmax(self, node: Node) -> None:
        x = self._act(node, node.inputs[0])
        md = self.values[x].md
        nd = len(md.dims)
        axis = node.attrs.get("axis", -1)  # opset >= 13: one axis
        pd = softmax_forward.primitive_desc(self.eng, _INFER, algorithm.softmax_accurate, md,
                                            md, axis % nd)
        self._emit(softmax_forward, pd, {ARG_SRC: x}, node.outputs[0], md=md)

    def _op_LayerNormalization(self, node: Node) -> None:
        x = self._act(node, node.inputs[0])
        md = self.values[x].md
        nd = len(md.dims)
        if node.attrs.get("axis", -1) % nd != nd - 1:
            raise unimplemented(f"node {node.name!r} (op LayerNormalization): axis "
                                f"{node.attrs.get('axis')} (the last axis only)")
        if any(o and self.consumers.get(o) or o in self.outputs for o in node.outputs[1:]):
            raise unimplemented(f"node {node.name!r} (op LayerNormalization): the mean "
                                "and inverse std outputs")
        scale, shift = self._const(node, 1, "scale"), self._const(node, 2, "bias")
        flags = normalization_flags.use_scale
        if shift is not None:
            flags |= normalization_flags.use_shift
        x = self._row_major(x)
        md = self.values[x].md
        pd = layer_normalization_forward.primitive_desc(
            self.eng, _INFER, md, md, float(node.attrs.get("epsilon", 1e-5)), flags)
        c = md.dims[-1]
        args = {ARG_SRC: x, ARG_SCALE: self.b.weight(desc((c,), F32, format_tag.a),
                                                     lambda: scale.reshape(c))}
        if shift is not None:
            args[ARG_SHIFT] = self.b.weight(desc((c,), F32, format_tag.a),
                                            lambda: shift.reshape(c))
        self._emit(layer_normalization_forward, pd, args, node.outputs[0], md=md)

    def _op_Concat(self, node: Node) -> None:
        srcs = [self._const_memory(i) if i in self.m.consts else
                (self.values[self._act(node, i)].md, i) for i in node.inputs if i]
        nd = len(self._shape(node.outputs[0]))
        axis = node.attrs.get("axis", 0) % nd
        first = srcs[0][0]
        dst = plain_desc(self._shape(node.outputs[0]), F32,
                         first.tag_str() if first.is_plain() else plain_order(nd))
        pd = concat.primitive_desc(self.eng, dst, axis, [md for md, _ in srcs])
        args = {ARG_MULTIPLE_SRC + k: s for k, (_, s) in enumerate(srcs)}
        self._emit(concat, pd, args, node.outputs[0], md=dst)

    def _reshape(self, node: Node) -> None:
        x = self._row_major(self._act(node, node.inputs[0]))
        out = node.outputs[0]
        shape = self._shape(out)
        self._use(x)
        self._view(out, plain_desc(shape, F32, plain_order(len(shape))), x)

    _op_Reshape = _op_Flatten = _op_Squeeze = _op_Unsqueeze = _reshape

    def _op_Cast(self, node: Node) -> None:
        if self.m.values[node.outputs[0]][1] != np.float32:
            raise unimplemented(f"node {node.name!r} (op Cast): to "
                                f"{self.m.values[node.outputs[0]][1]} at run time")
        self._reshape(node)

    _op_Identity = _op_Dropout = _op_Cast

    def _op_Transpose(self, node: Node) -> None:
        x = self._act(node, node.inputs[0])
        md = self.values[x].md
        if not md.is_plain():
            x = self._row_major(x)
            md = self.values[x].md
        perm = perm_of(node, len(md.dims))
        # the transposed view reads src's bytes in place: one reorder makes it row-major
        view = desc([md.dims[p] for p in perm], F32, [md.strides[p] for p in perm])
        dst = plain_desc(view.dims, F32, plain_order(len(perm)))
        tview = f"{x}#T{perm}"
        self.values[tview] = _Value(view, self.values[x].region)
        pd = reorder.primitive_desc(self.eng, view, self.eng, dst)
        self._emit(reorder, pd, {ARG_SRC: tview}, node.outputs[0], md=dst)

    # -- the arena --------------------------------------------------------------------
    def _finish(self) -> Plan:
        end = len(self.steps)
        for r in self.regions:
            if r.fixed:
                r.last = end
        placed: list = []
        total = 0
        for r in sorted(self.regions, key=lambda r: -r.size):
            r.last = max(r.last, r.first)
            live = sorted((p.offset, p.offset + _aligned(p.size)) for p in placed
                          if not (p.last < r.first or r.last < p.first))
            at = 0
            for lo, hi in live:
                if at + _aligned(r.size) <= lo:
                    break
                at = max(at, hi)
            r.offset = at
            placed.append(r)
            total = max(total, at + _aligned(r.size))
        arena = memory(desc((max(total // 4, 1),), F32, format_tag.a), self.eng)
        handle = arena.get_data_handle()
        mems: dict = {}

        def mem_of(name: str) -> memory:
            if name not in mems:
                v = self.values[name]
                mems[name] = memory(v.md, self.eng, _region(handle, v.region.offset,
                                                            v.md.get_size()))
            return mems[name]

        steps = [(prim, {arg: mem_of(a) if isinstance(a, str) else a
                         for arg, a in args.items()}) for prim, args in self.steps]
        inputs = []
        for p in self.m.inputs:
            mem = mem_of(p.name)
            copy = self.b.primitive(reorder, reorder.primitive_desc(
                self.eng, mem.get_desc(), self.eng, mem.get_desc()))
            inputs.append((p, mem, copy))
        outputs = []
        for p in self.m.outputs:
            if p.name in self.m.consts:
                outputs.append((p, np.asarray(self.m.consts[p.name])))
            else:
                outputs.append((p, mem_of(p.name)))
        runs = [prim._bind(self.strm, args) for prim, args in steps]
        return Plan(self.eng, self.strm, steps, runs, inputs, outputs, total, self.b.blobs,
                    self.b.weights, [arena])


def _aligned(n: int) -> int:
    return -(-max(n, 1) // ALIGN) * ALIGN


def _region(handle, offset: int, nbytes: int):
    """Bytes [offset, offset + nbytes) of the arena's buffer, without a copy: a numpy
    view (CPU) or an OpenCL sub-buffer."""
    if isinstance(handle, np.ndarray):
        return handle[offset // 4: offset // 4 + max(nbytes // 4, 1)]
    return handle.get_sub_region(offset, max(nbytes, 4))


def _is_row_major(md: desc) -> bool:
    if not md.is_plain():
        return False
    stride = 1
    for d, s in zip(reversed(md.dims), reversed(md.strides)):
        if d != 1 and s != stride:
            return False
        stride *= d
    return True


def _bias_of(arr: np.ndarray, shape_out: tuple, axis: int) -> Optional[np.ndarray]:
    """arr as a bias over shape_out's `axis` (1 elsewhere), or None."""
    nd = len(shape_out)
    axis %= nd
    if arr.ndim > nd or arr.size != shape_out[axis]:
        return None
    dims = (1,) * (nd - arr.ndim) + arr.shape
    if any(d != 1 for i, d in enumerate(dims) if i != axis):
        return None
    return arr.astype(np.float32).reshape(-1)


def _with_input(node: Node, x: str) -> Node:
    return Node(node.name, node.op, [x] + [i for i in node.inputs if i != x], node.outputs,
                node.attrs)


def _fuse_gelu(nodes: list, model: Model) -> list:
    """x * 0.5 * (1 + erf(x / sqrt(2))), as torch.onnx.export writes F.gelu, -> one
    Gelu node (x/sqrt2 may be x*(1/sqrt2); the 0.5 may come first or last)."""
    users: dict = {}
    for n in nodes:
        for i in n.inputs:
            users.setdefault(i, []).append(n)
    outputs = {p.name for p in model.outputs}

    def sole(name):
        u = users.get(name, [])
        return u[0] if len(u) == 1 and name not in outputs else None

    def const(name, value):
        a = model.consts.get(name)
        return a is not None and a.size == 1 and math.isclose(float(a.reshape(-1)[0]), value,
                                                              rel_tol=1e-3)

    def other(n, name):
        rest = [i for i in n.inputs if i != name]
        return rest[0] if len(rest) == 1 else None

    drop, replace = set(), {}
    for e in nodes:
        if e.op != "Erf":
            continue
        d = next((n for n in nodes if e.inputs[0] in n.outputs), None)
        if d is None or sole(d.outputs[0]) is not e:
            continue
        if d.op == "Div" and const(d.inputs[1], math.sqrt(2)):
            x = d.inputs[0]
        elif d.op == "Mul" and const(other(d, d.inputs[0]) or "", 1 / math.sqrt(2)):
            x = d.inputs[0]
        elif d.op == "Mul" and const(d.inputs[0], 1 / math.sqrt(2)):
            x = d.inputs[1]
        else:
            continue
        a = sole(e.outputs[0])
        if a is None or a.op != "Add" or not const(other(a, e.outputs[0]) or "", 1.0):
            continue
        m1 = sole(a.outputs[0])
        if m1 is None or m1.op != "Mul":
            continue
        o = other(m1, a.outputs[0])
        if o == x:  # x * (1 + erf) then * 0.5
            m2 = sole(m1.outputs[0])
            if m2 is None or m2.op != "Mul" or not const(other(m2, m1.outputs[0]) or "", 0.5):
                continue
            chain, last = [d, e, a, m1], m2
        else:       # (x * 0.5) * (1 + erf)
            h = next((n for n in nodes if o in n.outputs), None)
            if h is None or h.op != "Mul" or x not in h.inputs or sole(o) is not m1 or \
                    not const(other(h, x) or "", 0.5):
                continue
            chain, last = [d, e, a, h], m1
        drop.update(id(n) for n in chain)
        replace[id(last)] = Node(last.name, "Gelu", [x], last.outputs, {})
    return [replace.get(id(n), n) for n in nodes if id(n) not in drop]


_WHY_NOT = {
    "Erf": "Erf outside the GELU pattern x*0.5*(1+erf(x/sqrt(2))) has no primitive",
    "Sqrt": "Sqrt on a computed value has no primitive here",
    "Pow": "Pow on a computed value has no primitive here",
    "Neg": "Neg on a computed value has no primitive here",
}
