"""benchdnn's problem syntax.

Convolution: `g1mb2ic64ih56oc64oh56kh3ph1n"name"` with benchdnn's rules: input and
kernel sizes are mandatory; missing w (or h and w) dims copy h (or d); strides default
to 1, dilations to 0, minibatch to 2; an output size given without padding derives
the padding, otherwise the output is derived. Matmul: `12x128x64:12x64x128_n"name"`.
Post-ops: `--attr-post-ops=relu+sum:0.5`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
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
        """benchdnn's canonical form: defaults left out, w (and h) left out when they
        repeat h (and d); parse_conv reads it back to the same problem."""
        axes = "dhw"[3 - self.ndims_spatial:]
        fields = {a: (self.i[q], self.o[q], self.k[q], self.s[q], self.d[q], self.p[q])
                  for a, q in zip(axes, range(3 - self.ndims_spatial, 3))}
        while len(axes) > 1 and all(fields[a] == fields[axes[0]] for a in axes):
            axes = axes[:1]
        out = (f"g{self.g}" if self.g > 1 else "") + f"mb{self.mb}ic{self.ic}"
        out += "".join(f"i{a}{fields[a][0]}" for a in axes) + f"oc{self.oc}"
        for a in axes:
            i, o, k, s, d, p = fields[a]
            out += f"o{a}{o}k{a}{k}" + (f"s{a}{s}" if s != 1 else "")
            out += (f"d{a}{d}" if d else "") + f"p{a}{p}"
        return out + (f'n"{self.name}"' if self.name else "")

    def with_mb(self, mb: int) -> "ConvDesc":
        """benchdnn's --mb=N: the same layer at another minibatch (0 keeps it)."""
        return replace(self, mb=mb) if mb else self


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
        return ":".join(map(part_str, dims)) + (f'_n"{self.name}"' if self.name else "")


def _split_name(text: str) -> tuple[str, str]:
    m = _NAME.search(text)
    if not m:
        return text, ""
    return text[:m.start()], m.group(1) if m.group(1) is not None else m.group(2)


def _fields(text: str, keys: tuple) -> tuple[dict, str]:
    """({field: value}, name) of a `mb2ic16_ih5...n"name"` problem with fields `keys`."""
    body, name = _split_name(text.strip())
    vals: dict[str, int] = {}
    pos = 0
    for m in _TOKEN.finditer(body):
        gap = body[pos:m.start()].replace("_", "")
        if gap:
            raise ProblemError(f"{text!r}: unexpected {gap!r} at position {pos} (expected "
                               "fields such as ic64, each a name and a number)")
        key, value = m.group(1), int(m.group(2))
        if key not in keys:
            raise ProblemError(f"{text!r}: unknown field {key!r}; expected one of "
                               + ", ".join(keys))
        if key in vals:
            raise ProblemError(f"{text!r}: field {key!r} given twice")
        vals[key] = value
        pos = m.end()
    if body[pos:].replace("_", ""):
        raise ProblemError(f"{text!r}: unexpected {body[pos:]!r} at position {pos} (expected "
                           "fields such as ic64, each a name and a number)")
    return vals, name


def _window(text: str, vals: dict) -> tuple:
    """(spatial ndims, i, o, k, s, p, d as (d, h, w) tuples) of a windowed problem, by
    benchdnn's rules (see the module's docstring)."""
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
        if min(ii, kk, ss) < 1:
            raise ProblemError(f"{text!r}: sizes along {a} must be positive (i{a}{ii} "
                               f"k{a}{kk} s{a}{ss})")
        ext = (kk - 1) * (dd + 1) + 1
        oo = vals.get(f"o{a}")
        if pp is None:
            pp = 0 if oo is None else max(0, ((oo - 1) * ss - ii + ext) // 2)
        if oo is None:
            oo = (ii - ext + 2 * pp) // ss + 1
        if oo < 1:
            raise ProblemError(f"{text!r}: sizes along {a} must be positive: the kernel "
                               f"(k{a}{kk} d{a}{dd}) is wider than the padded input "
                               f"(i{a}{ii} p{a}{pp}), giving o{a}{oo}")
        i.append(ii), o.append(oo), k.append(kk), s.append(ss), p.append(pp), d.append(dd)
    return nsp, tuple(i), tuple(o), tuple(k), tuple(s), tuple(p), tuple(d)


def parse_conv(text: str) -> ConvDesc:
    vals, name = _fields(text, _CONV_KEYS)
    for key in ("ic", "oc"):
        if key not in vals:
            raise ProblemError(f"{text!r}: field {key!r} is required")
    nsp, i, o, k, s, p, d = _window(text, vals)
    g = vals.get("g", 1)
    if g < 1 or vals["ic"] % g or vals["oc"] % g:
        raise ProblemError(f"{text!r}: ic{vals['ic']} and oc{vals['oc']} must divide by g{g}")
    return ConvDesc(g, vals.get("mb", 2), vals["ic"], vals["oc"], nsp, i, o, k, s, p, d, name)


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
    if (len(src) != len(wei) or src[-1] != wei[-2]
            or any(a != b and 1 not in (a, b) for a, b in zip(src[:-2], wei[:-2]))):
        raise ProblemError(f"{text!r}: src {part_str(src)} and weights {part_str(wei)} do not "
                           "multiply (same rank, src K == weights K, batch dims equal or 1)")
    out = tuple(max(a, b) for a, b in zip(src[:-2], wei[:-2])) + (src[-2], wei[-1])
    if len(dims) == 3 and dims[2] != out:
        raise ProblemError(f"{text!r}: dst {part_str(dims[2])} should be {part_str(out)}")
    return MatmulDesc(src, wei, dims[2] if len(dims) == 3 else None, name)


# ---- the memory-bound kinds --------------------------------------------------------

_POOL_KEYS = tuple(k for k in _CONV_KEYS if k not in ("g", "oc"))


@dataclass(frozen=True)
class PoolDesc:
    """--pool: `mb2ic16_ih10oh5kh2sh2ph0`, the window fields of a convolution."""
    mb: int
    ic: int
    ndims_spatial: int
    i: tuple
    o: tuple
    k: tuple
    s: tuple
    p: tuple
    d: tuple
    name: str = ""

    pr = ConvDesc.pr

    def __str__(self) -> str:
        conv = ConvDesc(1, self.mb, self.ic, self.ic, self.ndims_spatial, self.i, self.o,
                        self.k, self.s, self.p, self.d, self.name)
        return str(conv).replace(f"oc{self.ic}", "", 1)

    def with_mb(self, mb: int) -> "PoolDesc":
        return replace(self, mb=mb) if mb else self


def parse_pool(text: str) -> PoolDesc:
    vals, name = _fields(text, _POOL_KEYS)
    if "ic" not in vals:
        raise ProblemError(f"{text!r}: field 'ic' is required")
    nsp, i, o, k, s, p, d = _window(text, vals)
    return PoolDesc(vals.get("mb", 2), vals["ic"], nsp, i, o, k, s, p, d, name)


@dataclass(frozen=True)
class DimsDesc:
    """--eltwise, --softmax, --lnorm: the dims, `2x16x7x7_n"name"`."""
    dims: tuple
    name: str = ""

    def __str__(self) -> str:
        return part_str(self.dims) + (f'_n"{self.name}"' if self.name else "")


@dataclass(frozen=True)
class DimsListDesc:
    """--binary, --concat: the sources' dims, `1x64x56x56:1x64x1x1`."""
    parts: tuple
    name: str = ""

    def __str__(self) -> str:
        return ":".join(map(part_str, self.parts)) + (f'_n"{self.name}"' if self.name else "")


def _dims(text: str, part: str, what: str) -> tuple:
    try:
        d = tuple(int(x) for x in part.split("x"))
    except ValueError:
        raise ProblemError(f"{text!r}: {what} dims {part!r} are not integers joined by "
                           "'x'") from None
    if min(d) < 1:
        raise ProblemError(f"{text!r}: {what} dims {part!r} must be positive")
    return d


def parse_dims(text: str) -> DimsDesc:
    body, name = _split_name(text.strip())
    body = body.rstrip("_")
    if ":" in body:
        raise ProblemError(f"{text!r}: expected one set of dims such as 2x16x7x7")
    return DimsDesc(_dims(text, body, "the"), name)


def parse_dims_list(text: str) -> DimsListDesc:
    body, name = _split_name(text.strip())
    return DimsListDesc(tuple(_dims(text, part, f"source {n}") for n, part in
                              enumerate(body.rstrip("_").split(":"))), name)


@dataclass(frozen=True)
class BnormDesc:
    """--bnorm: `mb2ic16ih7iw7` (iw copies ih, ih and iw copy id when not given)."""
    mb: int
    ic: int
    spatial: tuple
    name: str = ""

    @property
    def dims(self) -> tuple:
        return (self.mb, self.ic, *self.spatial)

    def __str__(self) -> str:
        axes = "dhw"[3 - len(self.spatial):]
        sp = "".join(f"i{a}{n}" for a, n in zip(axes, self.spatial))
        return f"mb{self.mb}ic{self.ic}{sp}" + (f'_n"{self.name}"' if self.name else "")

    def with_mb(self, mb: int) -> "BnormDesc":
        return replace(self, mb=mb) if mb else self


def parse_bnorm(text: str) -> BnormDesc:
    vals, name = _fields(text, ("mb", "ic", "id", "ih", "iw"))
    if "ic" not in vals:
        raise ProblemError(f"{text!r}: field 'ic' is required")
    if "id" in vals:
        sp = (vals["id"], vals.get("ih", vals["id"]), vals.get("iw", vals["id"]))
    elif "ih" in vals:
        sp = (vals["ih"], vals.get("iw", vals["ih"]))
    else:
        sp = (vals["iw"],) if "iw" in vals else ()
    if min((vals["ic"], vals.get("mb", 2)) + sp) < 1:
        raise ProblemError(f"{text!r}: sizes must be positive")
    return BnormDesc(vals.get("mb", 2), vals["ic"], sp, name)


# benchdnn's eltwise post-op names; dnnl_py's algorithm is "eltwise_" + name
ELTWISE_NAMES = ("relu", "gelu_tanh", "gelu_erf", "tanh", "logistic", "swish", "linear",
                 "clip", "exp", "log", "sqrt", "square", "abs", "pow", "soft_relu", "hardswish",
                 "hardsigmoid", "elu", "round")


BINARY_NAMES = ("add", "sub", "mul", "div", "max", "min", "ge", "gt", "le", "lt", "eq", "ne")
_BINARY_POLICIES = ("common", "per_tensor", "per_oc", "per_dim_0", "per_dim_1", "per_dim_01",
                    "per_dim_2", "per_dim_3", "per_mb", "per_mb_spatial", "per_spatial",
                    "per_mb_w", "per_w")


def parse_post_ops(text: str) -> tuple:
    """benchdnn's --attr-post-ops: entries joined by '+', each `sum[:SCALE[:ZERO_POINT[:DT]]]`,
    `ELTWISE[:ALPHA[:BETA]]` (alpha and beta 0 by default, as in benchdnn),
    `BINARY[:DT[:POLICY[:TAG]]]` (add, mul, ...) or `prelu[:POLICY]`. Returns
    (("sum", scale[, zero_point, dt]) | ("eltwise", "eltwise_<name>", alpha, beta)
    | ("binary", spelling), ...); binary_post_op reads a binary entry's fields."""
    ops = []
    for entry in filter(None, text.strip().strip("'\"").split("+")):
        kind, *values = entry.split(":")
        if kind in BINARY_NAMES or kind == "prelu":
            policies = values[1:2] if kind in BINARY_NAMES else values[:1]
            if (len(values) > (3 if kind in BINARY_NAMES else 1)
                    or any(p not in _BINARY_POLICIES and not p.isdigit() for p in policies)):
                raise ProblemError(f"--attr-post-ops={text}: {entry!r}: expected "
                                   f"{kind}[:DT[:POLICY[:TAG]]]" if kind != "prelu" else
                                   f"--attr-post-ops={text}: {entry!r}: expected prelu[:POLICY]")
            ops.append(("binary", entry))
            continue
        try:
            nums = [float(v) for v in values[:2 if kind == "sum" else 3]]
            if kind == "sum" and len(values) > 1:
                nums[1] = int(values[1])
        except ValueError:
            raise ProblemError(f"--attr-post-ops={text}: {entry!r}: values after ':' must be "
                               "numbers") from None
        if kind == "sum" and len(values) <= 3:
            dt = values[2] if len(values) > 2 else ""
            extra = (int(nums[1]), dt) if len(values) > 1 and (nums[1] or dt) else ()
            ops.append(("sum", nums[0] if nums else 1.0, *extra))
        elif kind in ELTWISE_NAMES and len(nums) <= 2:
            nums += [0.0] * (2 - len(nums))
            ops.append(("eltwise", "eltwise_" + kind, *nums))
        else:
            raise ProblemError(f"--attr-post-ops={text}: {entry!r}: expected "
                               "sum[:SCALE[:ZERO_POINT[:DT]]], BINARY[:DT[:POLICY]], "
                               "prelu[:POLICY] or ELTWISE[:ALPHA[:BETA]] with ELTWISE one of "
                               + ", ".join(ELTWISE_NAMES))
    return tuple(ops)


def binary_post_op(spelling: str) -> tuple:
    """(algorithm, src1 data type, mask policy or integer mask, tag) of a binary post-op
    entry: `add:f32:per_oc` -> ("add", "f32", "per_oc", "any"); benchdnn's defaults
    (f32, common, any) fill what is left out."""
    kind, *values = spelling.split(":")
    values += [""] * (3 - len(values))
    return kind, values[0] or "f32", values[1] or "common", values[2] or "any"


def post_ops_str(ops) -> str:
    """The --attr-post-ops spelling of parse_post_ops' result."""
    def entry(op):
        if op[0] == "binary":
            return op[1]
        if op[0] == "sum":
            extra = f":{op[2]}" + (f":{op[3]}" if op[3] else "") if len(op) > 2 else ""
            return "sum" + (f":{op[1]:g}" if op[1] != 1 or extra else "") + extra
        values = [f"{v:g}" for v in op[2:]]
        while values and values[-1] == "0":
            values.pop()
        return ":".join([op[1].removeprefix("eltwise_"), *values])
    return "+".join(map(entry, ops))


def part_str(d: tuple) -> str:
    return "x".join(map(str, d))


def batch_lines(path: Union[str, Path]) -> Iterator[tuple[int, list]]:
    """(line number, tokens) of a benchdnn batch file's non-empty lines; '#' starts a
    comment and a line ending in '\\' continues on the next (joined without the
    whitespace around the break, so `--attr-post-ops=, \\` + `sum:0.5` is one value).
    Tokens are options (`--mb=1`) or problems; quotes are kept."""
    joined, start = "", 0
    for lineno, line in enumerate(Path(path).read_text().splitlines(), 1):
        text = line.split("#", 1)[0]
        if joined:
            text = text.lstrip()
        else:
            start = lineno
        if text.rstrip().endswith("\\"):
            joined += text.rstrip()[:-1].rstrip()
            continue
        tokens = (joined + text).split()
        joined = ""
        if tokens:
            yield start, tokens
    if joined.split():
        yield start, joined.split()


def read_batch(path: Union[str, Path], parse) -> Iterator:
    """The problems of a batch file, one per token; option tokens are ignored."""
    for lineno, tokens in batch_lines(path):
        for token in tokens:
            if token.startswith("--"):
                continue
            try:
                yield parse(token)
            except ProblemError as e:
                raise ProblemError(f"{path}:{lineno}: {e}") from None
