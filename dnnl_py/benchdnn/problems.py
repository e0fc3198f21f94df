"""benchdnn's problem syntax.

Convolution: `g1mb2ic64ih56oc64oh56kh3ph1n"name"` with benchdnn's rules: input and
kernel sizes are mandatory; missing w (or h and w) dims copy h (or d); strides default
to 1, dilations to 0, minibatch to 2; an output size given without padding derives
the padding, otherwise the output is derived. Matmul: `12x128x64:12x64x128_n"name"`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional, Union

_CONV_KEYS = ("g", "mb", "ic", "id", "ih", "iw", "oc", "od", "oh", "ow", "kd", "kh", "kw",
              "sd", "sh", "sw", "pd", "ph", "pw", "dd", "dh", "dw")
_TOKEN = re.compile(r"([a-z]+)(\d+)")
_NAME = re.compile(r'_?n"([^"]*)"\s*$|_?n(\S*)\s*$')


class ProblemError(ValueError):
    """A malformed problem string; says which field and what was expected."""


@dataclass(frozen=True)
class ConvDesc:
    g: int
    mb: int
    ic: int
    oc: int
    ndims_spatial: int
    i: tuple  # (d, h, w)
    o: tuple
    k: tuple
    s: tuple
    p: tuple  # left padding
    d: tuple  # dilation, 0 = dense
    name: str = ""

    @property
    def pr(self) -> tuple:
        """Right padding implied by the output size."""
        return tuple((o - 1) * s - i + (k - 1) * (d + 1) + 1 - p for i, o, k, s, p, d in
                     zip(self.i, self.o, self.k, self.s, self.p, self.d))

    @property
    def count(self) -> int:
        """How often the layer occurs in its network (a `*N` suffix of the name)."""
        m = re.search(r"\*(\d+)$", self.name)
        return int(m.group(1)) if m else 1

    @property
    def flops(self) -> int:
        macs = self.mb * self.oc * (self.ic // self.g)
        for o, k in zip(self.o, self.k):
            macs *= o * k
        return 2 * macs

    def __str__(self) -> str:
        axes = "dhw"[3 - self.ndims_spatial:]
        off = 3 - self.ndims_spatial
        parts = [f"mb{self.mb}", f"g{self.g}ic{self.ic}oc{self.oc}"]
        for j, a in enumerate(axes):
            q = j + off
            parts.append(f"i{a}{self.i[q]}o{a}{self.o[q]}k{a}{self.k[q]}s{a}{self.s[q]}"
                         f"d{a}{self.d[q]}p{a}{self.p[q]}")
        return "_".join(parts)


@dataclass(frozen=True)
class MatmulDesc:
    src: tuple
    weights: tuple
    dst: Optional[tuple] = None
    name: str = ""

    @property
    def flops(self) -> int:
        batch = 1
        for a, b in zip(self.src[:-2], self.weights[:-2]):
            batch *= max(a, b)
        return 2 * batch * self.src[-2] * self.src[-1] * self.weights[-1]

    def __str__(self) -> str:
        dims = [self.src, self.weights] + ([self.dst] if self.dst else [])
        return ":".join("x".join(map(str, d)) for d in dims)


def _split_name(text: str) -> tuple[str, str]:
    m = _NAME.search(text)
    if not m:
        return text, ""
    return text[:m.start()], m.group(1) if m.group(1) is not None else m.group(2)


def parse_conv(text: str) -> ConvDesc:
    body, name = _split_name(text.strip())
    vals: dict[str, int] = {}
    pos = 0
    for m in _TOKEN.finditer(body):
        gap = body[pos:m.start()].replace("_", "")
        if gap:
            raise ProblemError(f"{text!r}: unexpected {gap!r} at position {pos}")
        key, value = m.group(1), int(m.group(2))
        if key not in _CONV_KEYS:
            raise ProblemError(f"{text!r}: unknown field {key!r}; expected one of "
                               + ", ".join(_CONV_KEYS))
        if key in vals:
            raise ProblemError(f"{text!r}: field {key!r} given twice")
        vals[key] = value
        pos = m.end()
    if body[pos:].replace("_", ""):
        raise ProblemError(f"{text!r}: unexpected {body[pos:]!r} at position {pos}")
    for key in ("ic", "oc"):
        if key not in vals:
            raise ProblemError(f"{text!r}: field {key!r} is required")
    given = {a: any(f"{x}{a}" in vals for x in "iokspd") for a in "dhw"}
    if not any(given.values()):
        raise ProblemError(f"{text!r}: no spatial size (id/ih/iw) given")
    # benchdnn: w copies h when only h is given; h and w copy d when only d is given
    if given["h"] and not given["w"]:
        _copy_axis(vals, "h", "w")
        given["w"] = True
    if given["d"] and not given["h"] and not given["w"]:
        _copy_axis(vals, "d", "h")
        _copy_axis(vals, "d", "w")
        given["h"] = given["w"] = True
    nsp = 3 if given["d"] else 2 if given["h"] else 1
    i, o, k, s, p, d = [], [], [], [], [], []
    for a in "dhw":
        if not given[a]:
            i.append(1), o.append(1), k.append(1), s.append(1), p.append(0), d.append(0)
            continue
        for key in (f"i{a}", f"k{a}"):
            if key not in vals:
                raise ProblemError(f"{text!r}: field {key!r} is required")
        ii, kk = vals[f"i{a}"], vals[f"k{a}"]
        ss, dd, pp = vals.get(f"s{a}", 1), vals.get(f"d{a}", 0), vals.get(f"p{a}")
        ext = (kk - 1) * (dd + 1) + 1
        oo = vals.get(f"o{a}")
        if pp is None:
            pp = 0 if oo is None else max(0, ((oo - 1) * ss - ii + ext) // 2)
        if oo is None:
            oo = (ii - ext + 2 * pp) // ss + 1
        if min(ii, kk, ss, oo) < 1:
            raise ProblemError(f"{text!r}: sizes along {a} must be positive (i{a}{ii} "
                               f"k{a}{kk} s{a}{ss} o{a}{oo})")
        i.append(ii), o.append(oo), k.append(kk), s.append(ss), p.append(pp), d.append(dd)
    g = vals.get("g", 1)
    if g < 1 or vals["ic"] % g or vals["oc"] % g:
        raise ProblemError(f"{text!r}: ic{vals['ic']} and oc{vals['oc']} must divide by g{g}")
    return ConvDesc(g, vals.get("mb", 2), vals["ic"], vals["oc"], nsp, tuple(i), tuple(o),
                    tuple(k), tuple(s), tuple(p), tuple(d), name)


def _copy_axis(vals: dict, src: str, dst: str) -> None:
    for x in "iokspd":
        if f"{x}{src}" in vals:
            vals.setdefault(f"{x}{dst}", vals[f"{x}{src}"])


def parse_matmul(text: str) -> MatmulDesc:
    body, name = _split_name(text.strip())
    parts = body.rstrip("_").split(":")
    if len(parts) not in (2, 3):
        raise ProblemError(f"{text!r}: expected SRC:WEIGHTS[:DST] dims such as 128x768:768x3072")
    dims = []
    for what, part in zip(("src", "weights", "dst"), parts):
        try:
            d = tuple(int(x) for x in part.split("x"))
        except ValueError:
            raise ProblemError(f"{text!r}: {what} dims {part!r} are not integers joined by "
                               "'x'") from None
        if len(d) < 2 or min(d) < 1:
            raise ProblemError(f"{text!r}: {what} needs at least 2 positive dims, got {part!r}")
        dims.append(d)
    src, wei = dims[0], dims[1]
    if len(src) != len(wei) or src[-1] != wei[-2]:
        raise ProblemError(f"{text!r}: src {part_str(src)} and weights {part_str(wei)} do not "
                           "multiply (same rank, src K == weights K)")
    return MatmulDesc(src, wei, dims[2] if len(dims) == 3 else None, name)


def part_str(d: tuple) -> str:
    return "x".join(map(str, d))


def read_batch(path: Union[str, Path], parse) -> Iterator:
    """Problems of a benchdnn batch file: one per line; '#' comments and blank lines are
    skipped; a line of options (starting with '--') is ignored."""
    for lineno, line in enumerate(Path(path).read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("--"):
            continue
        try:
            yield parse(line)
        except ProblemError as e:
            raise ProblemError(f"{path}:{lineno}: {e}") from None
