"""What the windowed kinds (convolution, pooling) share: their spatial arguments, parsed
and padded to (d, h, w), and benchdnn's window syntax for their problem strings."""
from __future__ import annotations

from ._errors import invalid


def ints(name: str, values, n: int) -> tuple:
    """`values` as n integers, or invalid_arguments naming the argument."""
    try:
        out = tuple(int(v) for v in values)
    except (TypeError, ValueError):
        raise invalid(f"{name}: expected {n} integers, got {values!r}") from None
    if len(out) != n:
        raise invalid(f"{name}: expected {n} values for {n} spatial dims, got {list(out)}")
    return out


def pad3(t: tuple, fill: int) -> tuple:
    """A 1D/2D problem's spatial tuple as a 3D one: unit (or `fill`) leading dims."""
    return (fill,) * (3 - len(t)) + t


def window_str(p) -> list:
    """`ih56oh56kh3sh1dh0ph1` per spatial axis the problem has (benchdnn's syntax), from
    its i, o, k, s, dil, pl (d, h, w) tuples."""
    return [f"i{axis}{p.i[j]}o{axis}{p.o[j]}k{axis}{p.k[j]}s{axis}{p.s[j]}d{axis}{p.dil[j]}"
            f"p{axis}{p.pl[j]}" for j, axis in enumerate("dhw") if j >= 3 - p.ndims_spatial]


def act_strides(md, ndims_spatial: int) -> tuple:
    """(n, c, d, h, w) strides of an activation; absent spatial dims get stride 0."""
    return (md.strides[0], md.strides[1]) + (0,) * (3 - ndims_spatial) + md.strides[2:]

