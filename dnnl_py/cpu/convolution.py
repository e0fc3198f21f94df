"""CPU forward convolution implementations, fastest first."""
from __future__ import annotations

from ..impl import Decline, Impl, plain_or_decline
from ..kinds import ARG_BIAS, ARG_DST, ARG_SRC, ARG_WEIGHTS, algorithm
from ..layout import overlaps, with_binary_post_ops
from ..memory_desc import WINO_2X3, opaque_desc, plain_desc, plain_order
from ..tuning import row_chunk_candidates
from . import _kernels
from .matmul import PANEL, packed_weights_desc

_INT_MAX = 2**31 - 1  # BLAS takes 32-bit sizes


def _dense_index(pairs):
    """The stride of one index stepping through (stride, size) pairs, innermost first,
    or None when the pairs are not dense. Unit sizes are skipped (their stride is
    arbitrary); all-unit pairs give 1."""
    first = step = None
    for stride, size in pairs:
        if size == 1:
            continue
        if step is not None and stride != step:
            return None
        first = stride if first is None else first
        step = stride * size
    return 1 if first is None else first


class _ConvImpl(Impl):
    """Shared by the implementations: layout resolution and the kernel's problem."""
    def __init__(self, runtime, problem, descs: dict, post_ops: list):
        self.decline_conv_algorithm(problem)
        if len(post_ops) > _kernels.MAX_POST_OPS:
            raise Decline(f"{len(post_ops)} post-ops (the kernels take at most "
                          f"{_kernels.MAX_POST_OPS})")
        super().__init__(runtime, problem, *with_binary_post_ops(descs, post_ops))


    @classmethod
    def _resolve(cls, p, src_order: str, wei_order: str, dst_order: str) -> dict:
        bias = plain_or_decline(p.bias, "a")
        if bias is not None and bias.dims[0] > 1 and bias.strides[0] != 1:
            # the kernels read bias[g * oc + c]: a padded or broadcast (stride 0) bias
            # would be read at the wrong elements or past its buffer
            raise Decline(f"bias stride {bias.strides[0]} (the kernels take a dense bias)")
        return {ARG_SRC: plain_or_decline(p.src, src_order),
                ARG_WEIGHTS: plain_or_decline(p.weights, wei_order) if wei_order else None,
                ARG_BIAS: bias, ARG_DST: plain_or_decline(p.dst, dst_order)}

    @classmethod
    def _channels_innermost(cls, rt, p, post_ops, weights=None) -> "_ConvImpl":
        """An instance over channels-last activations and oc-innermost weights (`any`
        resolves to them; `weights`, where given, is the instance's own weights layout
        instead), or Decline where the given layouts have other channel strides: the
        direct and Winograd kernels' layouts."""
        act = p.act_order(True)
        descs = cls._resolve(p, act, p.oc_inner_order() if weights is None else "", act)
        impl = cls(rt, p, descs if weights is None else {**descs, ARG_WEIGHTS: weights},
                   post_ops)
        k = impl.kernel_problem()
        if not (k["src_s"][1] == 1 and k["dst_s"][1] == 1 and k["wei_s"][1] == 1):
            raise Decline("channels are not innermost in src, dst and weights")
        return impl

    def kernel_problem(self) -> dict:
        p = self.problem
        return dict(mb=p.mb, g=p.g, ic=p.ic, oc=p.oc,
                    id=p.i[0], ih=p.i[1], iw=p.i[2], od=p.o[0], oh=p.o[1], ow=p.o[2],
                    kd=p.k[0], kh=p.k[1], kw=p.k[2], sd=p.s[0], sh=p.s[1], sw=p.s[2],
                    dd=p.dil[0], dh=p.dil[1], dw=p.dil[2], pd=p.pl[0], ph=p.pl[1], pw=p.pl[2],
                    src_s=p.act_strides(self.descs[ARG_SRC]),
                    dst_s=p.act_strides(self.descs[ARG_DST]),
                    wei_s=self.weight_strides())

    def weight_strides(self) -> tuple:
        """(g, o, i, d, h, w) strides of the weights the kernel reads."""
        return self.problem.wei_strides(self.descs[ARG_WEIGHTS])


class ConvDepthwise(_ConvImpl):
    """Direct depthwise kernel, vectorised over channels (channels-last)."""
    name = f"cpu:direct_dw:{_kernels.cpu_isa()}"

    @classmethod
    def create(cls, rt, p, post_ops):
        if not (p.g > 1 and p.ic == 1 and p.oc == 1):
            raise Decline("not depthwise")
        sp = p.ndims_spatial
        # weights (g, 1, 1, k...) with g innermost
        wei_order = plain_order(sp + 3)[3:] + "bca" if p.with_groups else None
        if wei_order is None:
            raise Decline("depthwise weights need a groups dim")
        descs = cls._resolve(p, p.act_order(True), wei_order, p.act_order(True))
        impl = cls(rt, p, descs, post_ops)
        k = impl.kernel_problem()
        if k["src_s"][1] != 1 or k["dst_s"][1] != 1 or k["wei_s"][0] != 1:
            raise Decline("channels are not innermost in src, dst and weights")
        return impl

    def make_kernel(self, params: tuple):
        return _kernels.ConvKernel(_kernels.CONV_DW, self.kernel_problem(), self.post_ops)


class ConvDirect(_ConvImpl):
    """Register-blocked direct kernel (csrc/conv_direct.c): channels-last activations,
    weights with oc innermost, oc per group a multiple of 16."""
    name = f"cpu:direct:{_kernels.cpu_isa()}"

    @classmethod
    def create(cls, rt, p, post_ops):
        if p.oc % 16:
            raise Decline("oc per group is not a multiple of 16")
        if p.ic == 0:
            raise Decline("no input channels (its reduction steps over them)")
        return cls._channels_innermost(rt, p, post_ops)

    def params(self) -> tuple:
        """(output channels per work item, steps per pass). 64 channels let a block's
        source serve two register blocks from L1; 96 steps of their weights (24 KiB)
        stay in L1 (measured on ResNet-50's shapes)."""
        return (64 if self.problem.oc % 64 == 0 else 32, 96)

    def candidates(self) -> list:
        found = [self.params()]
        for ocw in (32, 64, 128):
            for kc in (48, 96, 160):
                if ocw <= max(self.problem.oc, 32) and (ocw, kc) not in found:
                    found.append((ocw, kc))
        return found

    def make_kernel(self, params: tuple):
        ocw, kc = params
        return _kernels.ConvKernel(_kernels.CONV_DIRECT, self.kernel_problem(), self.post_ops,
                                   ocw=ocw, kc=kc)

    # output pixels (all images) up to which an expanding 1x1 stays here
    FEW_PIXELS = 256

    def defers(self) -> bool:
        """BLAS wins (measured on ResNet-50's shapes) on 1x1 convolutions that expand
        the channels over many pixels (res2a_branch1 at mb1, 3136 pixels: 0.78-0.94x
        here) or with strides (res4a_branch1: 0.68-0.80x): short reductions over many
        outputs, where its packed GEMM keeps more of the output in registers per load
        than this kernel's 14 x 32 blocks. On few pixels this kernel, with its weight
        prefetch, wins (mb1 res4a_branch2c, 196 pixels: 1.03-1.34x; res5a_branch2c,
        49: 1.14-1.36x, 1 and 2 threads): the weights dominate there, rows 4-8 KiB
        apart, and BLAS packs them on every call."""
        p = self.problem
        few = p.mb * p.pixels <= self.FEW_PIXELS and p.s == (1, 1, 1)
        return p.k == (1, 1, 1) and p.oc > p.ic and not few


class ConvWinograd(_ConvImpl):
    """Winograd F(2x2, 3x3) (csrc/conv_winograd.c) for convolution_winograd, and for
    convolution_auto where it is expected to win: 3x3, stride 1, one group, channel
    counts multiples of 16, the direct kernel's activation layouts. 2.25x fewer FMAs
    than the direct kernel, at the cost of the weights' transform (16/9 of their size)
    and of rounding a few additions longer (the tests bound it). Weights of format
    `any` resolve to the transformed ones (opaque layout wino_2x3_aaio, as oneDNN's
    wino format: a reorder makes them once, cpu/reorder.py); weights given with oc
    innermost are transformed on every call. Outputs
    are non-finite exactly where a direct sum's are (each of a tile's transform rows
    reads only source values inside its output's window), but the transforms subtract,
    so an infinity may come out as NaN."""
    name = f"cpu:wino_2x3:{_kernels.cpu_isa()}"
    winograd = True

    @classmethod
    def create(cls, rt, p, post_ops):
        if p.alg == algorithm.convolution_auto and _kernels.cpu_isa() != "avx512":
            raise Decline(f"auto picks it with AVX-512 only (this CPU: {_kernels.cpu_isa()})")
        square = p.k == (1, 3, 3) and p.s == (1, 1, 1) and p.dil == (0, 0, 0)
        if not (square and p.g == 1 and p.pl[0] == 0):
            raise Decline("not a 3x3, stride 1, undilated, one-group convolution")
        if p.ic % 16 or p.oc % 16 or p.ic == 0:
            raise Decline("ic or oc is not a multiple of 16")
        w = p.weights
        if w.opaque and w.opaque != WINO_2X3:
            raise Decline(f"weights of layout {w.opaque}")
        if w.is_any() or w.opaque:
            return cls._channels_innermost(rt, p, post_ops,
                                           opaque_desc(w.dims, w.data_type, WINO_2X3))
        return cls._channels_innermost(rt, p, post_ops)

    @property
    def transformed(self) -> bool:
        """The weights come transformed (wino_2x3_aaio), not 3x3."""
        return bool(self.descs[ARG_WEIGHTS].opaque)

    def weight_strides(self) -> tuple:
        if not self.transformed:
            return super().weight_strides()
        # U has none: those of the 3x3 weights it stands for (the kernel checks them)
        w = self.problem.weights
        return self.problem.wei_strides(plain_desc(w.dims, w.data_type,
                                                   self.problem.oc_inner_order()))

    # transformed weights (16 ic oc floats) up to which convolution_auto takes it
    MAX_U_BYTES = 4 << 20

    def defers(self) -> bool:
        """Under convolution_auto, the direct kernel where a thread would have no block
        of tiles (its work items) or the transformed weights pass 4 MiB: in ResNet-50's
        run loop (2 threads; benchmarks/model_layers.py) res2's 3x3s took 0.60-0.66 ms
        here against 1.11-1.15 direct, res3's 0.62-0.64 against 1.09-1.10, res4's (4 MiB,
        2 blocks) 0.77-0.85 against 1.05-1.16, and res5's (16 MiB, 1 block) 5.9 against
        1.3."""
        p = self.problem
        if p.alg != algorithm.convolution_auto:
            return False
        tiles = -(-p.o[1] // 2) * -(-p.o[2] // 2)
        blocks = p.mb * p.o[0] * -(-tiles // _kernels.WINOGRAD_TILE_BLOCK)
        return (blocks < self.runtime.threads()
                or 16 * p.ic * p.oc * 4 > self.MAX_U_BYTES)

    def make_kernel(self, params: tuple):
        return _kernels.ConvKernel(_kernels.CONV_WINOGRAD, self.kernel_problem(),
                                   self.post_ops, threads=self.runtime.threads(),
                                   transformed=self.transformed)


class ConvGemm(_ConvImpl):
    """im2col (skipped for dense 1x1) + BLAS sgemm, bias and post-ops fused per tile."""
    name = "cpu:gemm:blas"
    # tile sizes: output and im2col elements computed per step (cache-sized)
    OUT_TILE, COL_TILE = 1 << 18, 1 << 21

    @classmethod
    def create(cls, rt, p, post_ops):
        channels_last = cls._channels_last(p)
        if channels_last:  # weights [K, oc] per group, K ordered (k..., ic)
            wei_order = p.oc_inner_order()
        else:  # weights [oc, K] per group, K ordered (ic, k...)
            wei_order = plain_order(p.weights.get_ndims())
        act = p.act_order(channels_last)
        impl = cls(rt, p, cls._resolve(p, act, wei_order, act), post_ops)
        impl.channels_last = channels_last
        impl.strides = impl._gemm_strides()
        return impl

    @staticmethod
    def _channels_last(p) -> bool:
        for md in (p.src, p.dst):
            if not md.is_any() and md.is_plain():
                if md.dims[1] == 1:
                    continue  # one channel: both arrangements fit
                return md.strides[1] == 1
        return True

    def _gemm_strides(self) -> dict:
        """The arrangement's GEMM operands must be strided matrices (see csrc/conv.c);
        returns dst and weights strides with those of unit dims, which a layout leaves
        arbitrary, made canonical."""
        p, k = self.problem, super().kernel_problem()
        for arg, name in ((ARG_SRC, "src"), (ARG_WEIGHTS, "weights")):
            if overlaps(self.descs[arg]):
                raise Decline(f"{name} strides overlap (BLAS's matrices have distinct rows)")
        ss, ds, ws = k["src_s"], list(k["dst_s"]), list(k["wei_s"])
        pix = _dense_index([(ds[4], p.o[2]), (ds[3], p.o[1]), (ds[2], p.o[0])])
        if self.channels_last:
            k_step = _dense_index([(ws[2], p.ic), (ws[5], p.k[2]), (ws[4], p.k[1]),
                                   (ws[3], p.k[0])])
            ok = (p.g * p.ic == 1 or ss[1] == 1) and (p.g * p.oc == 1 or ds[1] == 1)
            ok = ok and k_step is not None and (p.oc == 1 or ws[1] == 1) and pix is not None
            ws[2] = k_step
        else:
            k_step = _dense_index([(ws[5], p.k[2]), (ws[4], p.k[1]), (ws[3], p.k[0]),
                                   (ws[2], p.ic)])
            ok = k_step == 1 and pix == 1
        if not ok:
            raise Decline("layouts are not one GEMM's (channels-last with hwio weights, "
                          "or channels-first with oihw weights)")
        ds[4] = pix
        kdim = p.ic * p.k[0] * p.k[1] * p.k[2]
        if max(p.mb * p.pixels, p.oc, kdim, ss[1], ss[4], *ws[1:3], ds[1], ds[4]) > _INT_MAX:
            raise Decline("sizes or strides beyond BLAS's 32-bit integers")
        return dict(dst_s=tuple(ds), wei_s=tuple(ws))

    def kernel_problem(self) -> dict:
        return {**super().kernel_problem(), **self.strides}

    def params(self) -> tuple:
        """(output pixels per GEMM step,)"""
        return (self._rows_per_chunk(),)

    def candidates(self) -> list:
        return row_chunk_candidates(self._rows_per_chunk(),
                                    self.problem.mb * self.problem.pixels)

    def _rows_per_chunk(self) -> int:
        p = self.problem
        rows = p.pixels
        kdim = p.ic * p.k[0] * p.k[1] * p.k[2]
        chunk = p.mb * rows
        if self.post_ops or p.bias is not None:
            chunk = min(chunk, max(64, self.OUT_TILE // max(p.oc * p.g, 1)))
        if p.k != (1, 1, 1) or p.s != (1, 1, 1) or any(p.pl):
            chunk = min(chunk, max(64, self.COL_TILE // max(kdim, 1)))
        return max(1, chunk)

    def make_kernel(self, params: tuple):
        (rows,) = params
        return _kernels.ConvKernel(_kernels.CONV_GEMM, self.kernel_problem(), self.post_ops,
                                   int(self.channels_last), rows)


class ConvPacked1x1(_ConvImpl):
    """An unpadded 1x1 convolution with one group, channels-last, is one GEMM:
    (mb * output pixels) x ic times ic x oc. It runs on the packed AVX-512 GEMM of
    csrc/gemm_packed.c (MatmulPacked's kernel), bias and post-ops (binary ones addressed
    from the nhwc dst) in its per-tile epilogue. With strides the GEMM's rows are every
    s-th source pixel: the kernel copies each tile's rows anyway, so it gathers them
    (images and output rows as batches sharing the weights). Only with weights created
    as format_tag.any: they take the kernel's panels ([oc / 32][ic][32]) and a reorder
    packs them once; plain weights would be packed on every call. Contracting 1x1s come
    here too, since the GEMM reads unstrided rows in place: 0.56-0.90x the direct
    kernel's time on ResNet-50's at mb1 (64 -> 64, 256 -> 64, 256 -> 128 with stride 1
    and 2, 512 -> 128)."""
    name = "cpu:gemm_packed_1x1:avx512"

    def defers(self) -> bool:
        """Beyond the caches, a 1x1 with few FLOPs per byte moved (ic * oc < 96 (ic + oc):
        ResNet-50's 64 -> 64, 64 -> 256, 256 -> 64 and 256 -> 128 at mb32) runs faster on
        the direct kernel, which asks for the next block's lines ahead: 0.84-1.03x of
        oneDNN there against 0.75-0.84x here; 128 -> 512 and wider stay here (0.85-0.89x
        against 0.80-0.81x; vs_onednn.py --mb32, alternating runs, docs/performance.md)."""
        p = self.problem
        large = p.mb * p.pixels * (p.ic + p.oc) * 4 > _kernels.CONV_STREAM_BYTES
        return large and p.ic * p.oc < 96 * (p.ic + p.oc)

    @classmethod
    def create(cls, rt, p, post_ops):
        if _kernels.cpu_isa() != "avx512":
            raise Decline(f"needs AVX-512 (this CPU: {_kernels.cpu_isa()})")
        unpadded = not any(p.pl) and all(o == (i - 1) // s + 1
                                         for o, i, s in zip(p.o, p.i, p.s))
        if p.k != (1, 1, 1) or not unpadded or p.g != 1:
            raise Decline("not an unpadded 1x1, one-group convolution")
        if p.ic == 0:
            raise Decline("no input channels (the GEMM's reduction is empty)")
        if not p.weights.is_any():
            raise Decline("weights not format_tag.any (they would be packed per call)")
        act = p.act_order(True)
        descs = cls._resolve(p, act, plain_order(p.weights.get_ndims()), act)
        ndw = p.weights.get_ndims()
        descs[ARG_WEIGHTS] = packed_weights_desc(p.weights, ndw - p.ndims_spatial - 1,
                                                 ndw - p.ndims_spatial - 2)
        impl = cls(rt, p, descs, post_ops)
        n, c, d, h, w = p.act_strides(descs[ARG_SRC])
        if c != 1 and p.ic > 1:
            raise Decline("src channels are not innermost")
        # src rows: output pixel (n, d, h, w) reads the source pixel at strides s
        impl.src_rows = ((n, d * p.s[0], h * p.s[1]), (w * p.s[2], 1))
        impl.dst_row = impl._row_stride(descs[ARG_DST], p.oc)
        if impl.dst_row is None:
            raise Decline("dst pixels are not one strided run of channel rows")
        return impl

    def _row_stride(self, md, channels: int):
        """The stride between GEMM rows (the pixels of all images, in order) of an
        activation with unit channel stride, or None when they are not one run."""
        p = self.problem
        n, c, d, h, w = p.act_strides(md)
        if c != 1 and channels > 1:
            return None
        return _dense_index([(w, p.o[2]), (h, p.o[1]), (d, p.o[0]), (n, p.mb)])

    def make_kernel(self, params: tuple):
        p = self.problem
        batch = (p.mb, p.o[0], p.o[1])  # rows are output pixels: ow of them per batch
        rs = self.dst_row
        dst = ((p.o[0] * p.o[1] * p.o[2] * rs, p.o[1] * p.o[2] * rs, p.o[2] * rs), (rs, 1))
        bias = None if p.bias is None else ((0, 0, 0), (0, 1))
        return _kernels.MatmulKernel(_kernels.MATMUL_PREPACKED, batch, p.o[2], p.oc, p.ic,
                                     self.src_rows, ((0, 0, 0), (PANEL, 1)), dst, bias,
                                     self.post_ops, 0, self.runtime.threads())


class ConvRef(_ConvImpl):
    """Direct loops over any plain layout: slow, simple, always there."""
    name = "cpu:ref:any"
    reference = True

    @classmethod
    def create(cls, rt, p, post_ops):
        wei = plain_order(p.weights.get_ndims())
        return cls(rt, p, cls._resolve(p, p.act_order(False), wei, p.act_order(False)),
                   post_ops)

    def make_kernel(self, params: tuple):
        return _kernels.ConvKernel(_kernels.CONV_REF, self.kernel_problem(), self.post_ops)
