"""How softmax and the normalizations walk memory on every engine: the problem's dims
split into parallel points (softmax and layer normalization: every row along the reduced
axis; batch normalization: every channel) and the reduction at each point, with each
operand's element strides. Any plain (strided) layout is one such split."""
from __future__ import annotations

from .impl import plain_or_decline
from .memory_desc import _LETTERS, plain_desc, plain_order
from .record import record


@record(frozen=True)
class Split:
    """par: (dim, src stride, dst stride, stat stride, scale/shift stride) per parallel dim;
    red: (dim, src stride, dst stride, scale/shift stride) per reduced dim. Both outermost
    first by src stride, unit parallel dims dropped (a reduced dim is kept: a kernel
    needs at least one)."""
    par: tuple
    red: tuple

    @property
    def points(self) -> int:
        n = 1
        for dim, *_ in self.par:
            n *= dim
        return n

    @property
    def length(self) -> int:
        """Elements reduced per point."""
        n = 1
        for dim, *_ in self.red:
            n *= dim
        return n


def split(dims, src_strides, dst_strides, reduced, stat_strides=None, ss_strides=None) -> Split:
    """reduced: the dims reduced over; stat_strides / ss_strides: {dim: stride} of the
    statistics (on parallel dims) and of scale/shift (the channel dim), absent dims 0."""
    stat_strides, ss_strides = stat_strides or {}, ss_strides or {}
    par, red = [], []
    for d, n in enumerate(dims):
        if d in reduced:
            red.append((n, src_strides[d], dst_strides[d], ss_strides.get(d, 0)))
        elif n != 1:
            par.append((n, src_strides[d], dst_strides[d], stat_strides.get(d, 0),
                        ss_strides.get(d, 0)))
    # the innermost dims last: the kernels' inner loop runs along the smallest stride
    par.sort(key=lambda a: -a[1])
    red.sort(key=lambda a: -a[1])
    return Split(tuple(par), tuple(red))


def resolve_data(src, dst) -> tuple:
    """The layouts of src and dst: `any` src is row-major, `any` dst takes src's order
    (as oneDNN's softmax and normalizations); blocked layouts decline."""
    src = plain_or_decline(src, plain_order(src.get_ndims()))
    if dst.is_any():
        order = sorted(range(len(src.dims)), key=lambda d: (-src.strides[d], d))
        return src, plain_desc(dst.dims, dst.data_type, "".join(_LETTERS[d] for d in order))
    return src, plain_or_decline(dst, "")
