"""Moving data between layouts. Every layout, plain or blocked, is a plain strided
view once each dim is split into its blocks (memory.desc.factors); a copy between
two layouts is one strided copy over the finest common split of each dim."""
from __future__ import annotations

import numpy as np

from ._errors import invalid
from .impl import Decline
from .kernel_abi import POST_OP_BINARY
from .kinds import ARG_ATTR_MULTIPLE_POST_OP, ARG_DST, ARG_SRC_1
from .memory_desc import _NUMPY_DTYPE, format_kind, plain_desc, plain_order


def _common_split(a: list, b: list):
    """Sizes (outermost first) refining the factor lists a and b of one dim, or None
    when the blockings do not nest (e.g. blocks of 16 against blocks of 24)."""
    bounds = set()
    for factors in (a, b):
        prod = 1
        for size, _ in reversed(factors):
            prod *= size
            bounds.add(prod)
    chain = sorted(bounds)
    if any(hi % lo for lo, hi in zip(chain, chain[1:])):
        return None
    sizes, prev = [], 1
    for bound in chain:
        if bound != prev:
            sizes.append(bound // prev)
        prev = bound
    return sizes[::-1]


def _strides_over(factors: list, sizes: list) -> list:
    """Strides of `sizes`, a refinement of `factors` (no unit sizes on either side), in
    the layout that `factors` describes."""
    strides, j, within = [], len(factors) - 1, 1
    for size in reversed(sizes):
        strides.append(factors[j][1] * within)
        within *= size
        if within == factors[j][0]:
            j, within = j - 1, 1
    return strides[::-1]


def simplify_plan(dims, ss, ds):
    """Drop unit dims, order by destination stride, merge dims contiguous on both sides."""
    axes = sorted((i for i, n in enumerate(dims) if n != 1), key=lambda i: (-ds[i], -ss[i]))
    out = []
    for i in axes:
        if out:
            n, s, d = out[-1]
            if s == ss[i] * dims[i] and d == ds[i] * dims[i]:
                out[-1] = (n * dims[i], ss[i], ds[i])
                continue
        out.append((dims[i], ss[i], ds[i]))
    return [o[0] for o in out], [o[1] for o in out], [o[2] for o in out]


def copy_plan(box, src_md, dst_md):
    """(dims, src strides, dst strides) of the copy of `box` between the layouts, or
    None if they cannot be expressed as one strided copy. An empty box gives dims with a
    zero in them."""
    if 0 in box:
        return list(box), [0] * len(box), [0] * len(box)
    dims, ss, ds = [], [], []
    for d, extent in enumerate(box):
        try:
            sf = [f for f in src_md.factors(d, extent) if f[0] != 1]
            df = [f for f in dst_md.factors(d, extent) if f[0] != 1]
        except ValueError:
            return None
        sizes = _common_split(sf, df)
        if sizes is None:
            return None
        dims += sizes
        ss += _strides_over(sf, sizes)
        ds += _strides_over(df, sizes)
    return simplify_plan(dims, ss, ds)


def reorder_steps(src_md, dst_md):
    """(tmp, plans) of a reorder: one copy plan, or two through `tmp`, a plain buffer
    padded as the larger of the two, when their padding differs (nchw <-> nChw16c with
    C % 16 != 0). Declines when a blocking pair does not nest, and an opaque layout
    (only its own reorder makes it: cpu/reorder.py)."""
    for md in (src_md, dst_md):
        if md.opaque:
            raise Decline(f"opaque layout {md.opaque} (a copy cannot make or read it)")
    tmp = None
    if src_md.padded_dims == dst_md.padded_dims:
        steps = [(src_md.padded_dims, src_md, dst_md)]
    else:
        tmp = plain_desc([max(a, b) for a, b in zip(src_md.padded_dims, dst_md.padded_dims)],
                         src_md.data_type, plain_order(src_md.get_ndims()))
        steps = [(src_md.padded_dims, src_md, tmp), (dst_md.padded_dims, tmp, dst_md)]
    plans = [copy_plan(box, a, b) for box, a, b in steps]
    if None in plans:
        raise Decline(f"blockings of {src_md.tag_str()} and {dst_md.tag_str()} do not nest")
    return tmp, plans


def oc_inner_order(ndims_spatial: int, with_groups: bool) -> str:
    """The weights' order with the output channel innermost: (g,) k..., ic, oc."""
    if with_groups:
        return "a" + plain_order(ndims_spatial + 3)[3:] + "cb"
    return plain_order(ndims_spatial + 2)[2:] + "ba"


def wei_strides(md, ndims_spatial: int, with_groups: bool) -> tuple:
    """(g, o, i, d, h, w) strides of the weights; g's is 0 without groups, absent spatial
    dims' 0."""
    s = md.strides if with_groups else (0,) + md.strides
    return s[:3] + (0,) * (3 - ndims_spatial) + s[3:]

def overlaps(md) -> bool:
    """True when two elements of md's layout may share an address: taken by stride, each
    split dim must step past every one inside it. (Dims that interleave without sharing
    an address, as strides [3, 2] over dims [2, 3], are counted as overlapping too.)"""
    if md.format_kind != format_kind.blocked or 0 in md.dims:
        return False
    if md.inner_blks:
        factors = [f for d, extent in enumerate(md.padded_dims) for f in md.factors(d, extent)]
    else:  # plain: one factor a dim (every primitive descriptor's dst asks, hits aside)
        factors = zip(md.dims, md.strides)
    reach = 1  # elements spanned by the dims inside the next one
    for stride, size in sorted((stride, size) for size, stride in factors if size > 1):
        if stride < reach:
            return True
        reach += (size - 1) * stride
    return False


def check_dst(md) -> None:
    """The library's rule for every engine, as oneDNN's: a destination gives each element
    its own address (an implementation would otherwise race or, in BLAS, write past the
    buffer). Sources may overlap (a zero stride broadcasts)."""
    if overlaps(md):
        raise invalid(f"dst: strides {list(md.strides)} over dims {list(md.dims)} overlap; "
                      "a destination needs one address per element")


def logical_view(md, buf: np.ndarray) -> np.ndarray:
    """A numpy view of the layout with every dim split into its blocks."""
    shape, strides = [], []
    for d, extent in enumerate(md.padded_dims):
        for size, stride in md.factors(d, extent):
            shape.append(size)
            strides.append(stride * buf.itemsize)
    return np.lib.stride_tricks.as_strided(buf, shape, strides, writeable=False)


def to_numpy(md, buf: np.ndarray) -> np.ndarray:
    """Logical dims, C-contiguous copy."""
    padded = logical_view(md, buf).reshape(md.padded_dims)
    return np.ascontiguousarray(padded[tuple(slice(0, n) for n in md.dims)])


def host_view(md, handle) -> np.ndarray:
    """A flat view of the user's numpy array `handle` for md's layout (no copy): an array
    with the descriptor's dims and strides, or a 1-D contiguous buffer covering the whole
    layout. The CPU engine computes on it; other engines copy it to their memory."""
    if not isinstance(handle, np.ndarray):
        raise invalid(f"memory: handle must be a numpy array, got {type(handle).__name__}")
    dtype = np.dtype(_NUMPY_DTYPE[md.data_type])
    if handle.dtype != dtype:
        raise invalid(f"memory: array dtype {handle.dtype} does not match the "
                      f"descriptor's {md.data_type.name}")
    need = md.nelems_spanned()
    if handle.ndim == 1 and handle.flags.c_contiguous and handle.shape != md.dims:
        if handle.size < need:
            raise invalid(f"memory: buffer of {handle.size} elements is smaller than the "
                          f"descriptor's {need}")
        return handle
    if handle.ndim == 1 and handle.shape != md.dims:
        raise invalid(f"memory: a 1-D buffer must be contiguous, got a view with a stride "
                      f"of {handle.strides[0] // dtype.itemsize} elements (the memory "
                      "wraps the array without copying it)")
    if handle.shape != md.dims:
        raise invalid(f"memory: array shape {list(handle.shape)} does not match the "
                      f"descriptor's dims {list(md.dims)}")
    if not md.is_plain():
        raise invalid(f"memory: a {md.tag_str()} layout takes a 1-D buffer, not an array "
                      "of logical shape")
    expected = tuple(s * dtype.itemsize for s in md.strides)
    if any(n > 1 and a != e for n, a, e in zip(md.dims, handle.strides, expected)):
        raise invalid(f"memory: array strides {[s // dtype.itemsize for s in handle.strides]}"
                      f" do not match the descriptor's {list(md.strides)} (in elements)")
    if need == 0:
        return np.zeros(1, dtype)
    return np.lib.stride_tricks.as_strided(handle, (need,), (dtype.itemsize,))


def elementwise_walk(dims, *strides) -> tuple:
    """(dims, [strides of each operand]) of an elementwise loop over `dims` (eltwise,
    binary): unit dims dropped, the rest ordered by the last operand's (dst's) strides,
    outermost first, and merged where every operand is contiguous across them (a zero
    stride, a broadcast, merges with zero). At least one dim."""
    axes = sorted((i for i, n in enumerate(dims) if n != 1),
                  key=lambda i: tuple(-s[i] for s in reversed(strides)))
    out = []
    for i in axes:
        here = tuple(s[i] for s in strides)
        if out and all(prev == s * dims[i] for prev, s in zip(out[-1][1], here)):
            out[-1] = (out[-1][0] * dims[i], here)
            continue
        out.append((dims[i], here))
    if not out:
        out = [(1, tuple(0 for _ in strides))]
    return [n for n, _ in out], [[s[k] for _, s in out] for k in range(len(strides))]


def order_of(md) -> str:
    """The dims of a plain layout as format tag letters, outermost first (stable for
    equal strides)."""
    nd = md.get_ndims()
    return "".join("abcdefghijkl"[i] for i in sorted(range(nd), key=lambda i: -md.strides[i]))


def follow_layout(md, like):
    """md, or for `any` a dense layout in the order of `like` (concrete; row-major when
    `like` is blocked: implementations take plain layouts). What eltwise's dst and
    binary's src_1 and dst resolve to."""
    if not md.is_any():
        return md
    order = order_of(like) if like.is_plain() else plain_order(md.get_ndims())
    return plain_desc(md.dims, md.data_type, order)


def broadcast_strides(md) -> list:
    """md's strides with 0 where it has a unit dim (a broadcast over the other operands)."""
    return [0 if n == 1 else s for n, s in zip(md.dims, md.strides)]


def with_binary_post_ops(descs: dict, post_ops: list) -> tuple:
    """(descs, post_ops) of an implementation that fuses binary post-ops (conv, matmul):
    each binary post-op's src1 layout added to descs under its execute argument, `any`
    following dst's resolved layout, and in post_ops (attr.kernel_ops()'s tuples) its
    src1 replaced by the walk that addresses src1 from a dst element: (dims, dst
    strides, src1 strides), dst's non-unit dims merged, largest stride first
    (csrc/dnnl_kernels.h's dnnl_post_op_t). The other post-ops' last field is None."""
    if all(op[0] != POST_OP_BINARY for op in post_ops):
        return descs, post_ops  # the common case, on every implementation's creation
    descs, ops = dict(descs), []
    for i, (kind, alg, alpha, beta, scale, src1) in enumerate(post_ops):
        walk = None
        if kind == POST_OP_BINARY:
            dst = descs[ARG_DST]
            src1 = follow_layout(src1, dst)
            descs[ARG_ATTR_MULTIPLE_POST_OP(i) | ARG_SRC_1] = src1
            dims, (s1, ds) = elementwise_walk(dst.dims, broadcast_strides(src1), dst.strides)
            if dims == [1]:  # a one-element dst: its stride is arbitrary (0, say)
                ds = [1]
            walk = (tuple(dims), tuple(ds), tuple(s1))
        ops.append((kind, alg, alpha, beta, scale, walk))
    return descs, ops
