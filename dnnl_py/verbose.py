"""oneDNN's verbose mode: one line on stdout per primitive creation (level 2) and
execution (levels 1 and 2), in oneDNN's format so that its log tools read ours:

onednn_verbose,v1,[timestamp,]primitive,<create:state|exec>,<engine>,<kind>,<impl>,
    <prop_kind>,<memory descriptors>,<attributes>,<aux>,<problem>,<milliseconds>
"""
from __future__ import annotations

import os
import sys
import threading
import time
import warnings
from typing import Optional

from ._build_info import GIT_HASH, VERSION
from ._errors import invalid

MARKER = "onednn_verbose,v1"
ENV_VARS = ("ONEDNN_VERBOSE", "DNNL_VERBOSE")
TIMESTAMP_ENV_VARS = ("ONEDNN_VERBOSE_TIMESTAMP", "DNNL_VERBOSE_TIMESTAMP")

_lock = threading.Lock()


# oneDNN's ONEDNN_VERBOSE names (comma-separated) as our levels; what we do not print
# (errors, dispatch, debug info) is accepted and prints nothing
NAMED_LEVELS = {"none": 0, "error": 0, "warn": 0, "check": 0, "dispatch": 0, "debuginfo": 0,
                "filter": 0, "profile_exec": 1, "profile_create": 2, "profile": 2, "all": 2}


def _from_env(names, allowed: tuple, named: Optional[dict] = None) -> int:
    """The level the first variable set asks for; a value we do not know is ignored with
    a warning (an environment variable never breaks the import)."""
    named = {str(a): a for a in allowed} | (named or {})
    for name in names:  # the first one set wins
        value = os.environ.get(name)
        if value is not None:
            levels = [named.get(word.partition("=")[0].strip()) for word in value.split(",")]
            if None not in levels:
                return max(levels)
            warnings.warn(f"{name}={value!r} ignored: expected one of {', '.join(named)}",
                          RuntimeWarning, stacklevel=2)
            return 0
    return 0


class _State:
    level = _from_env(ENV_VARS, (0, 1, 2), NAMED_LEVELS)
    timestamp = bool(_from_env(TIMESTAMP_ENV_VARS, (0, 1)))
    header_printed = False
    engines: list = []  # info lines of the engines' runtimes made so far (Runtime.info_lines)


def engine_info(line: str) -> None:
    """An engine's `info,<kind>,engine,...` line: printed with the header, or at once when
    the header is already out."""
    with _lock:
        _State.engines.append(line)
        if _State.header_printed and _State.level > 0:
            sys.stdout.write(f"{MARKER},{line}\n")


def set_verbose(level: int) -> None:
    """dnnl::set_verbose: 0 off, 1 execution lines, 2 creation and execution lines.
    Overrides the environment variables."""
    if isinstance(level, bool) or not isinstance(level, int) or level not in (0, 1, 2):
        raise invalid(f"set_verbose: level must be 0, 1 or 2, got {level!r}")
    _State.level = level


def get_verbose() -> int:
    return _State.level


def set_verbose_timestamp(enabled: bool) -> None:
    """As ONEDNN_VERBOSE_TIMESTAMP: a millisecond wall-clock stamp after the marker."""
    _State.timestamp = bool(enabled)


def creating() -> bool:
    return _State.level >= 2


def executing() -> bool:
    return _State.level >= 1


def _emit(fields: list) -> None:
    stamp = [f"{time.time() * 1e3:.6f}"] if _State.timestamp else []
    with _lock:
        if not _State.header_printed:
            _State.header_printed = True
            for info in (f"info,dnnl_py v{VERSION} (commit {GIT_HASH})", *_State.engines,
                         "primitive,info,template:operation,engine,primitive,implementation,"
                         "prop_kind,memory_descriptors,attributes,auxiliary,problem_desc,"
                         "exec_time"):
                sys.stdout.write(f"{MARKER},{info}\n")
        sys.stdout.write(",".join([MARKER, *stamp, "primitive", *fields]) + "\n")
        sys.stdout.flush()


def md_str(name: str, md) -> str:
    """`src:f32::blocked:acdb::f0` (data type, format kind, layout, flags)."""
    if md is None or md.is_zero():
        return f"{name}:undef::undef:::"
    return f"{name}:{md.data_type.name}::{md.format_kind.value}:{md.tag_str()}::f0"


def create_line(pd, state: str, ms: float) -> None:
    _emit([f"create:{state}", *pd._verbose_info(), f"{ms:g}"])


def dispatch_line(pd, reason: str) -> None:
    """An implementation that could not build its kernel and passes to the next one
    (oneDNN's create:dispatch lines)."""
    _emit(["create:dispatch", *pd._verbose_info(), reason.replace("\n", " | ")])


def exec_line(pd, ms: float) -> None:
    _emit(["exec", *pd._verbose_info(), f"{ms:g}"])
