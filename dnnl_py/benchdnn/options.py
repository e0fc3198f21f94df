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

import itertools
import re
from dataclasses import dataclass, fields, replace
from typing import Callable

import dnnl_py as dnnl

from .problems import ProblemError, parse_post_ops, post_ops_str

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
_ATTR_ARGS = ("src", "wei", "dst", "bia", "src1", "msrc", "attr_post_op_dw_wei",
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
        if len(parts) < 2 or parts[0] not in _ATTR_ARGS and not parts[0].startswith(
                "attr_post_op_"):
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
    dir: str = "FWD_B"
    dt: tuple = ("f32",)
    alg: str = "direct"
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
        if any(d != "f32" for d in self.dt):
            return f"data type {':'.join(self.dt)} (dnnl_py computes f32 only)"
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
                return f"--attr-post-ops: post-op {op[1]} (binary and prelu post-ops are " \
                       "not run by the driver)"
            if op[0] == "sum" and len(op) > 2:
                return f"--attr-post-ops: sum with a zero point or a data type " \
                       f"({post_ops_str((op,))})"
        return ""

    def repro(self, driver: str) -> list:
        """The options that differ from the defaults, in benchdnn's spelling."""
        out = []
        for f in fields(self):
            value, default = getattr(self, f.name), f.default
            if value != default and not (f.name == "dir" and driver != "conv"):
                out.append(f"--{OPTION_OF[f.name]}={_spell(f.name, value)}")
        return out


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
    return str(value)


CONV, MATMUL = ("conv",), ("matmul",)
BOTH = CONV + MATMUL
# option -> (Setup field, value parser, the drivers that know it)
LIST_OPTIONS = {
    "dir": ("dir", _one_of(DIRS), CONV),
    "dt": ("dt", _dt, BOTH),
    "cfg": ("dt", lambda v: CFG_DT[_one_of(tuple(CFG_DT))(v)], BOTH),
    "alg": ("alg", _one_of(("direct", "wino", "auto")), CONV),
    "bia-dt": ("bia_dt", _bia_dt, MATMUL),
    "bia_dt": ("bia_dt", _bia_dt, MATMUL),
    "bia_mask": ("bia_mask", _int, MATMUL),
    "bia-mask": ("bia_mask", _int, MATMUL),
    "stag": ("stag", tag_ok, BOTH),
    "wtag": ("wtag", tag_ok, BOTH),
    "dtag": ("dtag", tag_ok, BOTH),
    "strides": ("strides", _strides, MATMUL),
    "attr-post-ops": ("post_ops", _post_ops, BOTH),
    "attr-scales": ("scales", _attr_entries, BOTH),
    "attr-zero-points": ("zero_points", _attr_entries, BOTH),
    "attr-fpmath": ("fpmath", _fpmath, BOTH),
    "attr-scratchpad": ("scratchpad", _one_of(("library", "user")), BOTH),
    "attr-acc-mode": ("acc_mode", _one_of(("strict", "relaxed", "any", "f32", "s32", "f16")),
                      BOTH),
    "attr-rounding-mode": ("rounding", _rounding, BOTH),
    "attr-dropout": ("dropout", _dropout, MATMUL),
    "runtime_dims_masks": ("runtime_dims", _runtime_dims, MATMUL),
    "runtime-dims-masks": ("runtime_dims", _runtime_dims, MATMUL),
    "ctx-init": ("ctx_init", _ctx, BOTH),
    "ctx-exe": ("ctx_exe", _ctx, BOTH),
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
    values, items = [], split_list(value)
    for item in items:
        try:
            values.append(parse(item.strip()))
        except OptionError as e:
            which = f" {item!r}:" if len(items) > 1 else ""
            raise OptionError(f"--{key}={value}:{which} {e}") from None
    return field, tuple(values)


def configurations(lists: dict) -> list:
    """Every Setup of the option lists' cross-product, in benchdnn's order (the first
    option outermost)."""
    names = list(lists)
    return [replace(Setup(), **dict(zip(names, combo)))
            for combo in itertools.product(*(lists[n] for n in names))]


def impl_filter(value: str) -> tuple:
    """--impl / --skip-impl: implementation name fragments (an empty value: none)."""
    return tuple(v.strip() for v in value.split(",") if v.strip())


def parse_bool(key: str, value: str) -> bool:
    if value.lower() not in ("true", "false", "1", "0"):
        raise OptionError(f"--{key}={value}: expected true or false")
    return value.lower() in ("true", "1")
