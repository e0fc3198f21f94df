"""benchdnn's driver options: what each one accepts, which drivers know it, and how a
list of values becomes a cross-product of configurations.

A driver option (`--dt=f32,bf16`, `--attr-post-ops=,linear:2:1`, `--stag=any,axb`) holds a
list: every problem that follows runs once per combination of the lists' values, as
benchdnn does. `--reset` brings them back to their defaults; the common options
(`--mode`, `--engine`, timing, output) are not reset, as in benchdnn. Each value is
validated when the option is read (a malformed one is a usage error naming the option);
whether the library can run it is decided per configuration, when the problem runs
(`Setup.unsupported`), and a configuration it cannot run is SKIPPED with the reason.
"""
from __future__ import annotations

import functools
import itertools
import re
from dataclasses import dataclass, fields
from typing import Callable

import dnnl_py as dnnl

from .problems import ProblemError, binary_post_op, parse_post_ops, post_ops_str

# benchdnn's data type names; dnnl_py computes f32 only
DATA_TYPES = ("f32", "f64", "bf16", "f16", "s32", "s8", "u8", "s4", "u4", "f8_e5m2",
              "f8_e4m3", "f4_e2m1", "f4_e3m0", "e8m0", "undef")
# the old --cfg names (benchdnn's conv and matmul): f32, and the integer ones as dt triples
CFG_DT = {"f32": ("f32",), "f32_full": ("f32",), "bf16bf16bf16": ("bf16",),
          "f16": ("f16",), "u8s8u8": ("u8", "s8", "u8"), "u8s8s8": ("u8", "s8", "s8"),
          "u8s8f32": ("u8", "s8", "f32"), "u8s8s32": ("u8", "s8", "s32"),
          "s8s8u8": ("s8", "s8", "u8"), "s8s8s8": ("s8", "s8", "s8"),
          "s8s8f32": ("s8", "s8", "f32"), "s8s8s32": ("s8", "s8", "s32")}
DIRS = ("FWD_B", "FWD_D", "FWD_I", "BWD_D", "BWD_W", "BWD_WB", "BWD_DW")
_ATTR_ARGS = ("src", "wei", "dst", "bia", "src0", "src1", "attr_post_op_dw_wei",
              "attr_post_op_dw_dst")
_POLICIES = ("common", "per_oc", "per_ocic", "per_dim_0", "per_dim_1", "per_dim_01",
             "per_dim_2", "per_dim_3", "per_tensor", "per_mb", "per_mb_spatial",
             "per_spatial", "per_mb_w", "per_w")
_GENERIC_TAGS = ("abx", "axb", "xba", "any")
_KNOWN_TAGS = frozenset(dnnl.memory.format_tag.__members__)
_DIMS = re.compile(r"^\d+(x\d+)*$")


class OptionError(ValueError):
    """A malformed option value; the message names the option."""


# ---- value parsers: one value of a list (the text between commas) ----------------------

def _dt(value: str) -> tuple:
    parts = tuple(value.split(":"))
    if len(parts) not in (1, 3) or any(p not in DATA_TYPES for p in parts):
        raise OptionError("expected a data type or SRC:WEI:DST data types, each one of "
                          + ", ".join(DATA_TYPES))
    return parts


def _one_of(choices) -> Callable:
    def parse(value: str) -> str:
        if value not in choices:
            raise OptionError("expected one of " + ", ".join(choices))
        return value
    return parse


def _bia_dt(value: str) -> str:
    if value not in DATA_TYPES:
        raise OptionError("expected undef or a data type")
    return value


def _int(value: str) -> int:
    if not re.fullmatch(r"-?\d+", value):
        raise OptionError(f"{value!r} is not an integer")
    return int(value)


def tag_ok(value: str) -> str:
    """any, abx/axb/xba, a plain tag (a permutation of the first letters: `acb`) or a
    format tag name dnnl_py knows (nhwc, aBcd16b); resolved against the problem's dims
    when it runs."""
    plain = value.islower() and value.isalpha() and sorted(value) == [
        chr(ord("a") + i) for i in range(len(value))]
    if value not in _GENERIC_TAGS and not plain and value not in _KNOWN_TAGS:
        raise OptionError("unknown format tag: expected any, abx, axb, xba, a permutation "
                          "of plain letters (acb) or one of dnnl_py's format tags (nhwc, "
                          "aBcd16b, ...)")
    return value


def _attr_entries(value: str) -> tuple:
    """--attr-scales / --attr-zero-points: entries joined by '+', each
    `ARG:common[:VALUE[:DT]]` or `ARG:POLICY[:DT[:GROUPS]]` (GROUPS dims joined by 'x')."""
    out = []
    for entry in filter(None, value.split("+")):
        parts = entry.split(":")
        if len(parts) < 2 or parts[0] not in _ATTR_ARGS and not re.fullmatch(
                r"msrc\d+|attr_post_op_\w+", parts[0]):
            raise OptionError(f"{entry!r}: expected ARG:POLICY[:VALUE][:DT[:GROUPS]] with "
                              "ARG one of " + ", ".join(_ATTR_ARGS[:4]))
        if parts[1] not in _POLICIES:
            raise OptionError(f"{entry!r}: policy {parts[1]!r}; expected one of "
                              + ", ".join(_POLICIES))
        rest = parts[2:]
        if parts[1] == "common" and rest:
            try:
                float(rest[0])
            except ValueError:
                raise OptionError(f"{entry!r}: value {rest[0]!r} is not a number") from None
            rest = rest[1:]
        if rest and rest[0] not in DATA_TYPES:
            raise OptionError(f"{entry!r}: data type {rest[0]!r}")
        if len(rest) > 2 or len(rest) == 2 and not re.fullmatch(r"\d+x\d+", rest[1]):
            raise OptionError(f"{entry!r}: groups {':'.join(rest[1:])!r}; expected dims "
                              "such as 32x1")
        out.append(tuple(parts))
    return tuple(out)


def _fpmath(value: str) -> tuple:
    mode, _, apply_to_int = value.partition(":")
    mode = mode or "strict"
    if mode not in ("strict", "bf16", "f16", "tf32", "any", "f32") or \
            apply_to_int not in ("", "true", "false"):
        raise OptionError("expected MODE[:true|false], MODE one of strict, bf16, f16, tf32, any")
    return mode, apply_to_int == "true"


def _rounding(value: str) -> tuple:
    out = []
    for entry in filter(None, value.split("+")):
        arg, _, mode = entry.partition(":")
        if arg not in ("src", "wei", "dst") or mode not in ("environment", "stochastic"):
            raise OptionError(f"{entry!r}: expected ARG:environment|stochastic")
        out.append((arg, mode))
    return tuple(out)


def _dropout(value: str) -> str:
    if value:
        p, *rest = value.split(":")
        try:
            ok = 0 <= float(p) <= 1 and len(rest) <= 2 and int(rest[0] if rest else 0) >= 0
        except ValueError:
            ok = False
        if not ok:
            raise OptionError("expected PROBABILITY[:SEED[:TAG]]")
    return value


def _strides(value: str) -> tuple:
    parts = value.split(":") if value else ["", "", ""]
    if len(parts) != 3 or any(p and not _DIMS.match(p) for p in parts):
        raise OptionError("expected SRC:WEI:DST strides, each empty or numbers joined by "
                          "'x' (e.g. :4x1:)")
    return tuple(tuple(int(s) for s in p.split("x")) if p else () for p in parts)


def _runtime_dims(value: str) -> tuple:
    parts = value.split(":") if value else ["0", "0"]
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise OptionError("expected SRC_MASK:WEI_MASK, two integers")
    return int(parts[0]), int(parts[1])


def _ctx(value: str) -> str:
    if value != "default" and not re.fullmatch(r"\d+(:[a-z_]+(:\d+)?)?", value):
        raise OptionError("expected default or MAX_CONCURRENCY[:CORE_TYPE[:THREADS]]")
    return value


def _post_ops(value: str) -> tuple:
    try:
        return parse_post_ops(value)
    except ProblemError as e:
        raise OptionError(str(e).split(": ", 1)[-1]) from None


@dataclass(frozen=True)
class Setup:
    """One configuration: the driver options that shape a problem beyond its dims, one
    value each (a cross-product of the option lists gives many)."""
    dir: str = ""          # "": the driver's default (conv FWD_B, the others FWD_D)
    dt: tuple = ("f32",)
    sdt: tuple = ("f32",)  # the sources' data types (binary, concat, softmax)
    ddt: str = "f32"
    alg: str = ""          # "": the driver's default (conv direct, pool max, ...)
    alpha: float = 0.0
    beta: float = 0.0
    axis: int = 1
    flags: str = ""
    inplace: bool = False
    tag: str = "abx"       # src and dst (pool, eltwise, lnorm, bnorm)
    stat_tag: str = "abx"
    bia_dt: str = "undef"
    bia_mask: int = 2
    stag: str = "any"
    wtag: str = "any"
    dtag: str = "any"
    strides: tuple = ((), (), ())
    post_ops: tuple = ()
    scales: tuple = ()
    zero_points: tuple = ()
    fpmath: tuple = ("strict", False)
    scratchpad: str = "library"
    acc_mode: str = "strict"
    rounding: tuple = ()
    dropout: str = ""
    runtime_dims: tuple = (0, 0)
    ctx_init: str = "default"
    ctx_exe: str = "default"
    impl: tuple = ()          # --impl, --skip-impl: not lists of configurations but
    skip_impl: tuple = ()     # name fragments that rule implementations in or out

    def unsupported(self) -> str:
        """Why the driver cannot run this configuration on dnnl_py, or ''. The driver
        checks f32 data against a float64 reference through the library's API: a setting
        the API cannot express is skipped, never dropped silently."""
        for name, dts in (("dt", self.dt), ("sdt", self.sdt), ("ddt", (self.ddt,))):
            if any(d != "f32" for d in dts):
                return f"--{name}={':'.join(dts)}: data type (dnnl_py computes f32 only)"
        if self.dir.startswith("BWD"):
            return f"--dir={self.dir}: dnnl_py has forward propagation only"
        if self.bia_dt not in ("undef", "f32"):
            return f"--bia-dt={self.bia_dt} (f32 only)"
        if self.scales:
            return "--attr-scales: dnnl_py's primitive_attr has no scales"
        if self.zero_points:
            return "--attr-zero-points: dnnl_py's primitive_attr has no zero points"
        if self.fpmath[0] != "strict":
            return f"--attr-fpmath={self.fpmath[0]}: dnnl_py's primitive_attr has no " \
                   "fpmath mode"
        if self.scratchpad != "library":
            return "--attr-scratchpad=user: dnnl_py's primitive_attr has no scratchpad mode"
        if self.acc_mode != "strict":
            return f"--attr-acc-mode={self.acc_mode}: dnnl_py's primitive_attr has no " \
                   "accumulation mode"
        if self.rounding:
            return "--attr-rounding-mode: dnnl_py's primitive_attr has no rounding mode"
        if self.dropout:
            return "--attr-dropout: dnnl_py's primitive_attr has no dropout"
        if self.runtime_dims != (0, 0):
            return "--runtime_dims_masks: dnnl_py has no run-time dimensions"
        if (self.ctx_init, self.ctx_exe) != ("default", "default"):
            return "--ctx-init/--ctx-exe: dnnl_py has no per-primitive thread count"
        for op in self.post_ops:
            if op[0] == "binary":
                why = _binary_post_op_problem(op[1])
                if why:
                    return f"--attr-post-ops: {op[1]}: {why}"
            if op[0] == "sum" and len(op) > 2:
                return f"--attr-post-ops: sum with a zero point or a data type " \
                       f"({post_ops_str((op,))})"
        return ""

    def repro(self, driver: str) -> list:
        """The options that differ from the driver's defaults, in benchdnn's spelling."""
        out, defaults = [], default_setup(driver)
        for f in fields(self):
            value, default = getattr(self, f.name), getattr(defaults, f.name)
            if value != default:
                out.append(f"--{OPTION_OF[f.name]}={_spell(f.name, value)}")
        return out


def _binary_post_op_problem(spelling: str) -> str:
    kind, dt, _, _ = binary_post_op(spelling)
    if kind == "prelu":
        return "dnnl_py's post_ops has no append_prelu"
    if not hasattr(dnnl.post_ops, "append_binary"):
        return "dnnl_py's post_ops has no append_binary"
    if dt != "f32":
        return f"src1 data type {dt} (f32 only)"
    return ""


def _spell(name: str, value) -> str:
    if name == "dt":
        return ":".join(value)
    if name == "post_ops":
        return post_ops_str(value)
    if name in ("scales", "zero_points"):
        return "+".join(":".join(e) for e in value)
    if name == "fpmath":
        return value[0] + (":true" if value[1] else "")
    if name == "rounding":
        return "+".join(f"{a}:{m}" for a, m in value)
    if name == "strides":
        return ":".join("x".join(map(str, s)) for s in value)
    if name == "runtime_dims":
        return f"{value[0]}:{value[1]}"
    if name in ("impl", "skip_impl"):
        return ",".join(value)
    if name in ("sdt",):
        return ":".join(value)
    if name in ("alpha", "beta"):
        return f"{value:g}"
    if name == "inplace":
        return "true" if value else "false"
    return str(value)


def _tags(value: str) -> str:
    """--stag of binary and concat: one tag per source, ':'-separated (axb:any)."""
    for part in value.split(":"):
        tag_ok(part)
    return value


def _dst_tag(value: str) -> str:
    return value if value == "undef" else tag_ok(value)  # concat: undef, no dst given


def _float(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise OptionError(f"{value!r} is not a number") from None


def _sdt(value: str) -> tuple:
    parts = tuple(value.split(":"))
    if any(p not in DATA_TYPES for p in parts):
        raise OptionError("expected data types joined by ':', each one of "
                          + ", ".join(DATA_TYPES))
    return parts


def _dt_pair(value: str) -> tuple:
    parts = _sdt(value)
    if len(parts) > 2:
        raise OptionError("expected a data type or SRC:DST data types")
    return parts


def _flags(letters: str) -> Callable:
    def parse(value: str) -> str:
        if set(value) - set(letters) or len(set(value)) != len(value):
            raise OptionError(f"expected flag letters from {letters} (each at most once)")
        return value
    return parse


def _bool(value: str) -> bool:
    if value not in ("true", "false"):
        raise OptionError("expected true or false")
    return value == "true"


CONV, MATMUL = ("conv",), ("matmul",)
BOTH = CONV + MATMUL
MEMORY_BOUND = ("pool", "eltwise", "binary", "softmax", "lnorm", "bnorm", "concat")
# benchdnn's algorithm names per driver (conv, pool, binary and softmax: upper or lower
# case, as benchdnn compares them with strcasecmp: --alg=WINO, --alg=AVG_NP)
ALGS = {
    "conv": ("direct", "wino", "auto"),
    "pool": ("max", "avg_np", "avg_p"),
    "eltwise": ("abs", "clip", "clip_v2", "clip_v2_dst", "elu", "elu_dst", "exp", "exp_dst",
                "gelu_erf", "gelu_tanh", "hardsigmoid", "hardswish", "linear", "log",
                "logistic", "logistic_dst", "logsigmoid", "mish", "pow", "relu", "relu_dst",
                "round", "soft_relu", "sqrt", "sqrt_dst", "square", "swish", "tanh",
                "tanh_dst"),
    "binary": ("add", "sub", "mul", "div", "max", "min", "ge", "gt", "le", "lt", "eq", "ne"),
    "softmax": ("softmax", "logsoftmax"),
}


def _alg(driver: str) -> Callable:
    def parse(value: str) -> str:
        name = value.lower() if driver in ("conv", "pool", "binary", "softmax") else value
        if name not in ALGS[driver]:
            raise OptionError("expected one of " + ", ".join(ALGS[driver]))
        return name
    return parse


_FWD_BWD = ("FWD_D", "FWD_I", "BWD_D", "BWD_DW", "BWD_W", "BWD_WB")
# option -> (Setup field, value parser or {driver: parser}, the drivers that know it)
LIST_OPTIONS = {
    "dir": ("dir", {"conv": _one_of(DIRS), **{d: _one_of(_FWD_BWD) for d in
                                                ("pool", "eltwise", "softmax", "lnorm",
                                                 "bnorm")}},
            CONV + ("pool", "eltwise", "softmax", "lnorm", "bnorm")),
    "dt": ("dt", {"conv": _dt, "matmul": _dt, "lnorm": _dt_pair, "pool": _dt_pair,
                  "eltwise": _dt_pair, "bnorm": _dt_pair},
           BOTH + ("pool", "eltwise", "lnorm", "bnorm")),
    "cfg": ("dt", lambda v: CFG_DT[_one_of(tuple(CFG_DT))(v)], BOTH),
    "sdt": ("sdt", _sdt, ("binary", "softmax", "concat")),
    "ddt": ("ddt", _bia_dt, ("binary", "softmax", "concat")),
    "alg": ("alg", {d: _alg(d) for d in ALGS}, tuple(ALGS)),
    "alpha": ("alpha", _float, ("eltwise",)),
    "beta": ("beta", _float, ("eltwise",)),
    "axis": ("axis", _int, ("softmax", "concat")),
    "flags": ("flags", {"lnorm": _flags("GCHM"), "bnorm": _flags("GCHRA")},
              ("lnorm", "bnorm")),
    "inplace": ("inplace", _bool, ("eltwise", "binary", "softmax", "lnorm", "bnorm")),
    "tag": ("tag", tag_ok, ("pool", "eltwise", "lnorm", "bnorm")),
    "stat_tag": ("stat_tag", tag_ok, ("lnorm",)),
    "bia-dt": ("bia_dt", _bia_dt, MATMUL),
    "bia_dt": ("bia_dt", _bia_dt, MATMUL),
    "bia_mask": ("bia_mask", _int, MATMUL),
    "bia-mask": ("bia_mask", _int, MATMUL),
    "stag": ("stag", {"binary": _tags, "concat": _tags, "conv": tag_ok, "matmul": tag_ok,
                      "softmax": tag_ok}, BOTH + ("binary", "concat", "softmax")),
    "wtag": ("wtag", tag_ok, BOTH),
    "dtag": ("dtag", {"concat": _dst_tag, "conv": tag_ok, "matmul": tag_ok,
                      "binary": tag_ok, "softmax": tag_ok},
             BOTH + ("binary", "concat", "softmax")),
    "strides": ("strides", _strides, MATMUL),
    "attr-post-ops": ("post_ops", _post_ops, BOTH + MEMORY_BOUND),
    "attr-scales": ("scales", _attr_entries, BOTH + MEMORY_BOUND),
    "attr-zero-points": ("zero_points", _attr_entries, BOTH + MEMORY_BOUND),
    "attr-fpmath": ("fpmath", _fpmath, BOTH + MEMORY_BOUND),
    "attr-scratchpad": ("scratchpad", _one_of(("library", "user")), BOTH + MEMORY_BOUND),
    "attr-acc-mode": ("acc_mode", _one_of(("strict", "relaxed", "any", "f32", "s32", "f16")),
                      BOTH + MEMORY_BOUND),
    "attr-rounding-mode": ("rounding", _rounding, BOTH + MEMORY_BOUND),
    "attr-dropout": ("dropout", _dropout, MATMUL),
    "runtime_dims_masks": ("runtime_dims", _runtime_dims, MATMUL),
    "runtime-dims-masks": ("runtime_dims", _runtime_dims, MATMUL),
    "ctx-init": ("ctx_init", _ctx, BOTH + MEMORY_BOUND),
    "ctx-exe": ("ctx_exe", _ctx, BOTH + MEMORY_BOUND),
}
OPTION_OF: dict = {}  # Setup field -> its option's name (the first spelling above)
for _name, (_field, _, _) in LIST_OPTIONS.items():
    OPTION_OF.setdefault(_field, _name)
OPTION_OF.update(impl="impl", skip_impl="skip-impl")


def split_list(value: str) -> list:
    """A list option's values: comma-separated, an empty entry meaning the default
    (`--attr-post-ops=,linear:2:1` is none, then linear)."""
    return value.split(",")


def parse_list_option(driver: str, key: str, value: str) -> tuple:
    """(Setup field, the parsed values) of `--key=value`; raises OptionError naming it."""
    field, parse, drivers = LIST_OPTIONS[key]
    if driver not in drivers:
        raise OptionError(f"--{key}: not an option of the --{driver} driver")
    if isinstance(parse, dict):
        parse = parse[driver]
    values, items = [], split_list(value)
    for item in items:
        try:
            values.append(parse(item.strip()))
        except OptionError as e:
            which = f" {item!r}:" if len(items) > 1 else ""
            raise OptionError(f"--{key}={value}:{which} {e}") from None
    return field, tuple(values)


# benchdnn's defaults where a driver's differ from Setup's: plain sources (abx) for the
# memory-bound kinds that take a source tag, and no dst descriptor for concat
_DRIVER_DEFAULTS = {"binary": {"stag": "abx"}, "softmax": {"stag": "abx"},
                    "concat": {"stag": "abx", "dtag": "undef"}}


@functools.lru_cache(maxsize=None)
def default_setup(driver: str) -> Setup:
    return Setup(**_DRIVER_DEFAULTS.get(driver, {}))


def configurations(lists: dict, driver: str = "conv", **fixed) -> list:
    """Every Setup of the option lists' cross-product, in benchdnn's order (the first
    option outermost), with the `fixed` fields set in each."""
    names, base = list(lists), {**_DRIVER_DEFAULTS.get(driver, {}), **fixed}
    return [Setup(**{**base, **dict(zip(names, combo))})
            for combo in itertools.product(*(lists[n] for n in names))]


def impl_filter(value: str) -> tuple:
    """--impl / --skip-impl: implementation name fragments (an empty value: none)."""
    return tuple(v.strip() for v in value.split(",") if v.strip())


def parse_bool(key: str, value: str) -> bool:
    if value.lower() not in ("true", "false", "1", "0"):
        raise OptionError(f"--{key}={value}: expected true or false")
    return value.lower() in ("true", "1")
