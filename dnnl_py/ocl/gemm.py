"""OpenCL convolution and matmul: one implicit-GEMM kernel (kernels/igemm.cl), specialised
per problem by -D macros. A matmul is a 1x1 convolution whose "pixels" are its rows; its
batch dims, like a convolution's groups, walk the grid's third dimension.

Creation from scratch builds the program and launches it once on scratch buffers, so
that PoCL compiles the work-group function then (it does so at the first launch) and the
program binary in the cache blob carries it. Creation from a blob rebuilds the program
from that binary: no compile at all.
"""
from __future__ import annotations

import functools
import math

import numpy as np
import pyopencl as cl

from ..impl import Decline, plain_or_decline
from ..kernel_abi import BINARY_ID, ELTWISE_ID, POST_OP_BINARY, POST_OP_SUM, c_name
from ..kinds import ARG_ATTR_MULTIPLE_POST_OP, ARG_BIAS, ARG_DST, ARG_SRC, ARG_SRC_1, ARG_WEIGHTS
from ..layout import broadcast_strides, simplify_plan, with_binary_post_ops
from ..memory_desc import plain_order
from . import program as ocl_program
from .program_impl import OclProgramImpl

MAX_POST_OPS = 4
MAX_BATCH_DIMS = 4
REF_LOCAL = 16  # output channels per work-group of the reference kernel
ELTWISE_NAMES = {i: c_name(alg) for alg, i in ELTWISE_ID.items()}
BINARY_NAMES = {i: c_name(alg) for alg, i in BINARY_ID.items()}


def _float(value: float) -> str:
    """An exact OpenCL C float literal."""
    if math.isinf(value):
        return "(-INFINITY)" if value < 0 else "INFINITY"
    if math.isnan(value):
        return "NAN"
    return f"({float(np.float32(value)).hex()}f)"


def post_op_macros(ops: list) -> dict:
    """post_ops.cl's macros for the kernel post-ops `ops` (attr.kernel_ops()'s tuples);
    declines more than the kernels' MAX_POST_OPS slots."""
    if len(ops) > MAX_POST_OPS:
        raise Decline(f"{len(ops)} post-ops (at most {MAX_POST_OPS})")
    out = {"PO_COUNT": len(ops), "WITH_SUM": 0, "WITH_BINARY": 0, "PO_SUM": POST_OP_SUM,
           "PO_BINARY": POST_OP_BINARY}
    for n, (kind, alg, alpha, beta, scale, _) in enumerate(ops):
        out.update({f"PO{n}_KIND": kind, f"PO{n}_ALG": alg, f"PO{n}_ALPHA": _float(alpha),
                    f"PO{n}_BETA": _float(beta), f"PO{n}_SCALE": _float(scale)})
        out["WITH_SUM"] |= int(kind == POST_OP_SUM)
        out["WITH_BINARY"] |= int(kind == POST_OP_BINARY)
    out.update({name: i for i, name in ELTWISE_NAMES.items()})
    out.update({name: i for i, name in BINARY_NAMES.items()})
    return out


def _post_op_buffers(ops: list, buffers: tuple) -> list:
    """The kernels' PO_PARAMS: binary post-op n's src1 in slot n, None elsewhere."""
    slots, given = [None] * MAX_POST_OPS, iter(buffers)
    for n, op in enumerate(ops):
        if op[0] == POST_OP_BINARY:
            slots[n] = next(given)
    return slots


class GemmKernel:
    """The igemm program's launch, after the weights are packed: kernel(queue, src,
    weights, bias, dst) enqueues the packing (the engine's strided copy: one program
    kernel fewer to compile per primitive) and the GEMM."""
    sources = ("problem.cl", "post_ops.cl", "igemm.cl")

    def __init__(self, runtime, macros: dict, params: tuple, post_ops: list):
        self.runtime, self.program, self._binary, self.params = runtime, None, None, params
        self.post_ops = post_ops
        rb, nv = params
        nb = 16 * nv
        panels = -(-macros["OC"] // nb)
        batch = math.prod(macros[f"B{i}_DIM"] for i in range(MAX_BATCH_DIMS))
        self.grid = (panels, -(-_rows(macros) // rb), batch)
        self.packed_size = batch * panels * _ktot(macros) * nb
        self.packing = _packing_plans(macros, nb)
        self.partial_panel = macros["OC"] % nb != 0

    def launches(self, sizes: list) -> list:
        """What a build runs once, on scratch buffers of the real sizes (src, weights,
        bias, dst) with the real launch shape: PoCL compiles a kernel's work-group
        function at its first launch, specialised to the launch shape (a one-work-group
        launch was measured to leave 60 ms to the user's first execution)."""
        if 0 in self.grid:
            return []
        src, _, bia, dst, *po = (["null"] if n is None else ["buffer", n] for n in sizes)
        return [["gemm", self.grid, [1, 1, 1],
                 [src, ["buffer", 4 * self.packed_size], bia, dst, *po]]]

    def bind(self, program, binary) -> "GemmKernel":
        """Takes the built program (and its binary, when the build had it)."""
        self.program, self._binary = program, binary
        self.gemm = cl.Kernel(program, "gemm")
        # the padding columns of a partial last panel are zeroed once and never written;
        # without one, the packing copies write every byte before the GEMM reads any (the
        # fill cost ~90 ms of a ResNet-50 load from the model cache)
        nbytes = 4 * self.packed_size
        self.packed = (self.runtime.zeros(nbytes) if self.partial_panel
                       else self.runtime.empty(nbytes))
        self.pack = [(self.runtime.copier(plan), src_off, dst_off)
                     for plan, src_off, dst_off in self.packing]
        return self

    def __call__(self, queue, src, wei, bias, dst, *post_op_src1):
        if 0 in self.grid:
            return
        for copy, src_off, dst_off in self.pack:
            copy(queue, wei, self.packed, src_offset=src_off, dst_offset=dst_off)
        self.gemm(queue, self.grid, (1, 1, 1), src, self.packed, bias, dst,
                  *_post_op_buffers(self.post_ops, post_op_src1))

    def binary(self) -> bytes:
        if self._binary is None:  # costly on PoCL (~100 ms a kernel): only when asked
            self._binary = ocl_program.binary(self.program)
        return self._binary


def _ktot(macros: dict) -> int:
    return macros["KD"] * macros["KH"] * macros["KW"] * macros["IC"]


def _packing_plans(m: dict, nb: int) -> list:
    """(copy plan, src offset, dst offset) that pack the weights into panels:
    packed[b, panel, kd, kh, kw, ic, c] = wei[b, oc = panel * nb + c, ic, kd, kh, kw] (the
    reduction order of igemm.cl), one copy for the full panels and one for the last,
    partial one."""
    ktot, full = _ktot(m), m["OC"] // nb
    panels = -(-m["OC"] // nb)
    batch = [(m[f"B{i}_DIM"], m[f"B{i}_WEI"]) for i in range(MAX_BATCH_DIMS)]
    per_b = panels * ktot * nb
    dst_batch, acc = [], per_b
    for dim, _ in reversed(batch):
        dst_batch.insert(0, acc)
        acc *= dim
    k = [(m["KD"], m["WEI_D"], m["KH"] * m["KW"] * m["IC"] * nb),
         (m["KH"], m["WEI_H"], m["KW"] * m["IC"] * nb), (m["KW"], m["WEI_W"], m["IC"] * nb),
         (m["IC"], m["WEI_I"], nb)]
    out = []
    for count, cols, first in ((full, nb, 0), (int(panels > full), m["OC"] - full * nb, full)):
        axes = [(dim, ss, ds) for (dim, ss), ds in zip(batch, dst_batch)]
        axes += [(count, nb * m["WEI_O"], ktot * nb), *k, (cols, m["WEI_O"], 1)]
        if count and cols and all(a[0] for a in axes):
            out.append((simplify_plan(*([a[i] for a in axes] for i in range(3))),
                        first * nb * m["WEI_O"], first * ktot * nb))
    return out


class RefKernel(GemmKernel):
    """The reference program: one work-item per output element (kernels/ref.cl)."""
    sources = ("problem.cl", "post_ops.cl", "ref.cl")

    def __init__(self, runtime, macros: dict, params: tuple, post_ops: list):
        self.runtime, self.program, self._binary, self.params = runtime, None, None, params
        self.post_ops = post_ops
        batch = math.prod(macros[f"B{i}_DIM"] for i in range(MAX_BATCH_DIMS))
        self.grid = (-(-macros["OC"] // REF_LOCAL) * REF_LOCAL, _rows(macros), batch)

    def launches(self, sizes: list) -> list:
        if 0 in self.grid:
            return []
        return [["ref_gemm", self.grid, [REF_LOCAL, 1, 1],
                 [["null"] if n is None else ["buffer", n] for n in sizes]]]

    def bind(self, program, binary) -> "RefKernel":
        self.program, self._binary = program, binary
        self.kernel = cl.Kernel(program, "ref_gemm")
        return self

    def __call__(self, queue, src, wei, bias, dst, *post_op_src1):
        if 0 not in self.grid:
            self.kernel(queue, self.grid, (REF_LOCAL, 1, 1), src, wei, bias, dst,
                        *_post_op_buffers(self.post_ops, post_op_src1))


def _rows(macros: dict) -> int:
    return macros["MB"] * macros["OD"] * macros["OH"] * macros["OW"]


class _OclGemm(OclProgramImpl):
    """What the convolution and matmul implementations share: params, program build,
    blob records. Subclasses fill macros() from their problem."""
    kernel_class = GemmKernel

    def __init__(self, runtime, problem, descs: dict, post_ops: list):
        super().__init__(runtime, problem, *with_binary_post_ops(descs, post_ops))
        post_op_macros(self.post_ops)  # declines what the kernel cannot fuse

    @functools.cached_property
    def macros(self) -> dict:
        """The problem as igemm.cl's -D macros."""
        raise NotImplementedError

    def _src1_strides(self, md) -> dict:
        """A binary post-op's src1 strides as the kernels address dst: N, C, D, H, W
        and batch dims B0..B3 (0 where src1 broadcasts)."""
        raise NotImplementedError

    def _binary_macros(self) -> dict:
        """POn_N, POn_C, POn_D, POn_H, POn_W and Bi_POn of each binary post-op n."""
        out = {}
        for n, op in enumerate(self.post_ops):
            if op[0] == POST_OP_BINARY:
                md = self.descs[ARG_ATTR_MULTIPLE_POST_OP(n) | ARG_SRC_1]
                out.update({(f"PO{n}_{k}" if k[0] != "B" else f"{k}_PO{n}"): v
                            for k, v in self._src1_strides(md).items()})
        return out

    def params(self) -> tuple:
        """(rows per work-item, 16-column vectors per work-item): 8 x 32 measured best on
        PoCL at 1024^3 (16 float16 accumulators); 12 x 16 when there are few columns."""
        return (8, 2) if self.macros["OC"] > 16 else (12, 1)

    def candidates(self) -> list:
        found = [self.params()]
        return found + [p for p in ((8, 2), (6, 2), (4, 2), (12, 1), (8, 1)) if p not in found]

    def _options(self, params: tuple) -> str:
        macros = {**self.macros, **post_op_macros(self.post_ops), **self._binary_macros(),
                  **dict(zip(("RB", "NV"), params))}
        macros["PADDED"] = int(_window_leaves_input(macros))
        return " ".join(f"-D{name}={value}" for name, value in macros.items())

    def _sizes(self) -> list:
        """The launch's buffers: src, weights, bias, dst, then a post-op slot each."""
        po = [ARG_ATTR_MULTIPLE_POST_OP(n) | ARG_SRC_1 for n in range(MAX_POST_OPS)]
        return [None if self.descs.get(arg) is None else self.descs[arg].get_size()
                for arg in (ARG_SRC, ARG_WEIGHTS, ARG_BIAS, ARG_DST, *po)]

    # the program (ocl/program_impl.py)

    @property
    def program_sources(self) -> tuple:
        return self.kernel_class.sources

    def program_options(self, params: tuple) -> str:
        return self._options(params)

    def new_kernel(self, params: tuple):
        return self.kernel_class(self.runtime, self.macros, params, self.post_ops)

    def launch_args(self) -> tuple:
        return (self._sizes(),)


def _window_leaves_input(m: dict) -> bool:
    """Whether some output's window reaches into the padding: only then does the kernel
    mask source values (a multiply per row and step, measured 25% of a matmul)."""
    for axis in "DHW":
        last = (m[f"O{axis}"] - 1) * m[f"S{axis}"] + (m[f"K{axis}"] - 1) * m[f"D{axis}"]
        if m[f"P{axis}"] > 0 or last - m[f"P{axis}"] >= m[f"I{axis}"]:
            return True
    return False


def _no_batch() -> dict:
    out = {}
    for i in range(MAX_BATCH_DIMS):
        out.update({f"B{i}_DIM": 1, f"B{i}_DIV": 1, f"B{i}_SRC": 0, f"B{i}_WEI": 0,
                    f"B{i}_DST": 0, f"B{i}_BIA": 0})
    return out


class ConvIgemm(_OclGemm):
    """Forward convolution over any plain layouts (`any`: channels-last activations,
    weights with oc innermost)."""
    name = "ocl:conv:igemm"

    @classmethod
    def create(cls, rt, p, post_ops):
        cls.decline_conv_algorithm(p)
        act = p.act_order(True)
        descs = {ARG_SRC: plain_or_decline(p.src, act),
                 ARG_WEIGHTS: plain_or_decline(p.weights, p.oc_inner_order()),
                 ARG_BIAS: plain_or_decline(p.bias, "a"), ARG_DST: plain_or_decline(p.dst, act)}
        return cls(rt, p, descs, post_ops)

    @functools.cached_property
    def macros(self) -> dict:
        p, d = self.problem, self.descs
        sn, sc, sd, sh, sw = p.act_strides(d[ARG_SRC])
        dn, dc, dd, dh, dw = p.act_strides(d[ARG_DST])
        wg, wo, wi, wd, wh, ww = p.wei_strides(d[ARG_WEIGHTS])
        bc = d[ARG_BIAS].strides[0] if d[ARG_BIAS] is not None else 0
        m = {"MB": p.mb, "IC": p.ic, "OC": p.oc,
             "SRC_N": sn, "SRC_C": sc, "SRC_D": sd, "SRC_H": sh, "SRC_W": sw,
             "DST_N": dn, "DST_C": dc, "DST_D": dd, "DST_H": dh, "DST_W": dw,
             "WEI_O": wo, "WEI_I": wi, "WEI_D": wd, "WEI_H": wh, "WEI_W": ww,
             "BIA_N": 0, "BIA_D": 0, "BIA_H": 0, "BIA_W": 0, "BIA_C": bc,
             "WITH_BIAS": int(d[ARG_BIAS] is not None), **_no_batch(),
             "B0_DIM": p.g, "B0_SRC": p.ic * sc, "B0_WEI": wg, "B0_DST": p.oc * dc,
             "B0_BIA": p.oc * bc}
        for j, axis in enumerate("DHW"):
            m.update({f"I{axis}": p.i[j], f"O{axis}": p.o[j], f"K{axis}": p.k[j],
                      f"S{axis}": p.s[j], f"D{axis}": p.dil[j] + 1, f"P{axis}": p.pl[j]})
        return m


    def _src1_strides(self, md) -> dict:
        p = self.problem
        sn, sc, sd, sh, sw = p.act_strides(md)
        dims = (md.dims[0], md.dims[1]) + (1,) * (3 - p.ndims_spatial) + md.dims[2:]
        n, c, d, h, w = (0 if size == 1 else s for size, s in zip(dims, (sn, sc, sd, sh, sw)))
        return {"N": n, "C": c, "D": d, "H": h, "W": w, "B0": p.oc * c, "B1": 0, "B2": 0,
                "B3": 0}


class MatmulTiled(_OclGemm):
    """Batched matmul over any plain strides, broadcast batch dims, bias of any
    broadcast shape."""
    name = "ocl:gemm:tiled"

    @classmethod
    def create(cls, rt, p, post_ops):
        order = plain_order(p.dst.get_ndims())
        descs = {arg: plain_or_decline(md, order) for arg, md in
                 ((ARG_SRC, p.src), (ARG_WEIGHTS, p.weights), (ARG_BIAS, p.bias), (ARG_DST, p.dst))}
        if len(p.batch) > MAX_BATCH_DIMS:
            raise Decline(f"{len(p.batch)} batch dims (at most {MAX_BATCH_DIMS})")
        return cls(rt, p, descs, post_ops)

    @functools.cached_property
    def macros(self) -> dict:
        p, d = self.problem, self.descs
        src, wei, dst, bia = d[ARG_SRC], d[ARG_WEIGHTS], d[ARG_DST], d[ARG_BIAS]

        def stride(md, dim):  # 0 where the operand broadcasts (or is absent)
            return 0 if md is None or md.dims[dim] == 1 else md.strides[dim]
        m = {"MB": 1, "IC": p.k, "OC": p.n, "OD": 1, "OH": 1, "OW": p.m,
             "ID": 1, "IH": 1, "IW": p.m, "KD": 1, "KH": 1, "KW": 1,
             "SD": 1, "SH": 1, "SW": 1, "DD": 1, "DH": 1, "DW": 1, "PD": 0, "PH": 0, "PW": 0,
             "SRC_N": 0, "SRC_D": 0, "SRC_H": 0, "SRC_W": stride(src, -2),
             "SRC_C": stride(src, -1), "WEI_O": stride(wei, -1), "WEI_I": stride(wei, -2),
             "WEI_D": 0, "WEI_H": 0, "WEI_W": 0,
             "DST_N": 0, "DST_D": 0, "DST_H": 0, "DST_W": stride(dst, -2),
             "DST_C": stride(dst, -1), "BIA_N": 0, "BIA_D": 0, "BIA_H": 0,
             "BIA_W": stride(bia, -2), "BIA_C": stride(bia, -1),
             "WITH_BIAS": int(bia is not None), **_no_batch()}
        div = 1
        for i in reversed(range(len(p.batch))):
            m.update({f"B{i}_DIM": p.batch[i], f"B{i}_DIV": div,
                      f"B{i}_SRC": stride(src, i), f"B{i}_WEI": stride(wei, i),
                      f"B{i}_DST": stride(dst, i), f"B{i}_BIA": stride(bia, i)})
            div *= p.batch[i]
        return m


    def _src1_strides(self, md) -> dict:
        s = broadcast_strides(md)
        nb = len(self.problem.batch)
        return {"N": 0, "D": 0, "H": 0, "W": s[-2], "C": s[-1],
                **{f"B{i}": s[i] if i < nb else 0 for i in range(MAX_BATCH_DIMS)}}


class ConvRef(ConvIgemm):
    """Plain loops over the same layouts as ocl:conv:igemm: runs where that cannot be built."""
    name = "ocl:ref:any"
    reference = True
    kernel_class = RefKernel

    def params(self) -> tuple:
        return ()

    def candidates(self) -> list:
        return [()]


class MatmulRef(MatmulTiled):
    """Plain loops over the same layouts as ocl:gemm:tiled: runs where that cannot be built."""
    name = "ocl:ref:any"
    reference = True
    kernel_class = RefKernel
    params, candidates = ConvRef.params, ConvRef.candidates


MATMUL_IMPLS = [MatmulTiled, MatmulRef]
