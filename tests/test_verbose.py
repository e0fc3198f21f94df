"""Verbose lines read back: oneDNN's fields, cache_miss then cache_hit, levels, the
timestamp, the environment variables."""
import os
import subprocess
import sys

import pytest
from helpers import make_attr

import dnnl_py as dnnl

md, dt, tag = dnnl.memory.desc, dnnl.memory.data_type, dnnl.memory.format_tag
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIELDS = ["marker", "version", "category", "operation", "engine", "kind", "impl", "prop_kind",
          "mds", "attrs", "aux", "problem", "ms"]


@pytest.fixture(autouse=True)
def quiet_after():
    dnnl.clear_primitive_cache()
    yield
    dnnl.set_verbose(0)
    dnnl.set_verbose_timestamp(False)


def primitive_lines(text):
    return [dict(zip(FIELDS, line.split(","))) for line in text.splitlines()
            if line.startswith("onednn_verbose,v1,primitive,") and ",info," not in line]


def make_conv(eng):
    pd = dnnl.convolution_forward.primitive_desc(
        eng, dnnl.prop_kind.forward_inference, dnnl.algorithm.convolution_direct,
        md([1, 64, 56, 56], dt.f32, tag.nhwc), md([64, 64, 3, 3], dt.f32, tag.any), None,
        md([1, 64, 56, 56], dt.f32, tag.nhwc), [1, 1], [1, 1], [1, 1],
        attr=make_attr([("eltwise", "eltwise_relu", 0.0, 0.0)]))
    return pd, dnnl.convolution_forward(pd)


def test_creation_lines_miss_then_hit(eng, capsys):
    dnnl.set_verbose(2)
    make_conv(eng)
    make_conv(eng)
    lines = primitive_lines(capsys.readouterr().out)
    assert [x["operation"] for x in lines] == ["create:cache_miss", "create:cache_hit"]
    line = lines[0]
    assert line["engine"] == "cpu" and line["kind"] == "convolution"
    assert line["impl"].startswith("cpu:direct:") and line["prop_kind"] == "forward_inference"
    assert line["mds"] == ("src:f32::blocked:acdb::f0 wei:f32::blocked:cdba::f0 "
                           "dst:f32::blocked:acdb::f0")
    assert line["attrs"] == "attr-post-ops:eltwise_relu"
    assert line["aux"] == "alg:convolution_direct"
    assert line["problem"] == "mb1_ic64oc64_ih56oh56kh3sh1dh0ph1_iw56ow56kw3sw1dw0pw1"
    assert float(line["ms"]) >= 0


def test_exec_lines_and_levels(eng, strm, capsys):
    a = md([128, 768], dt.f32, tag.ab)
    b = md([768, 3072], dt.f32, tag.ab)
    c = md([128, 3072], dt.f32, tag.ab)
    args = {dnnl.ARG_SRC: dnnl.memory(a, eng), dnnl.ARG_WEIGHTS: dnnl.memory(b, eng),
            dnnl.ARG_DST: dnnl.memory(c, eng)}
    dnnl.set_verbose(1)
    prim = dnnl.matmul(dnnl.matmul.primitive_desc(eng, a, b, c))
    prim.execute(strm, args)
    lines = primitive_lines(capsys.readouterr().out)
    assert [x["operation"] for x in lines] == ["exec"]  # level 1: no creation lines
    assert lines[0]["kind"] == "matmul" and lines[0]["problem"] == "128x768:768x3072"
    assert float(lines[0]["ms"]) > 0
    dnnl.set_verbose(0)
    prim.execute(strm, args)
    dnnl.matmul(dnnl.matmul.primitive_desc(eng, a, b, c))
    assert primitive_lines(capsys.readouterr().out) == []


def test_timestamp(eng, capsys):
    dnnl.set_verbose(2)
    dnnl.set_verbose_timestamp(True)
    make_conv(eng)
    line = [x for x in capsys.readouterr().out.splitlines() if "create:" in x][0]
    fields = line.split(",")
    assert fields[:2] == ["onednn_verbose", "v1"]
    assert fields[3:5] == ["primitive", "create:cache_miss"]
    assert float(fields[2]) > 1.6e12  # milliseconds since the epoch


@pytest.mark.parametrize("bad", [3, -1, "2", None])
def test_bad_level(bad):
    with pytest.raises(dnnl.error) as e:
        dnnl.set_verbose(bad)
    assert e.value.status == dnnl.status.invalid_arguments


def _child(env):
    code = ("import dnnl_py as d\n"
            "e = d.engine(d.engine.kind.cpu, 0)\n"
            "a = d.memory.desc([4, 4], d.memory.data_type.f32, d.memory.format_tag.ab)\n"
            "d.reorder(d.memory(a, e), d.memory(a, e))\n")
    full = {k: v for k, v in os.environ.items() if "VERBOSE" not in k}
    return subprocess.run([sys.executable, "-c", code], env={**full, **env, "PYTHONPATH": ROOT},
                          capture_output=True, text=True)


def test_environment_variables():
    assert primitive_lines(_child({"ONEDNN_VERBOSE": "2"}).stdout)[0]["operation"] == \
        "create:cache_miss"
    assert primitive_lines(_child({"DNNL_VERBOSE": "2"}).stdout)[0]["kind"] == "reorder"
    assert primitive_lines(_child({"ONEDNN_VERBOSE": "0", "DNNL_VERBOSE": "2"}).stdout) == []
    assert primitive_lines(_child({}).stdout) == []
    # oneDNN's names; an unknown value is ignored with one warning, never a failed import
    for value in ("all", "profile_create,profile_exec", "profile"):
        assert primitive_lines(_child({"ONEDNN_VERBOSE": value}).stdout)
    assert primitive_lines(_child({"ONEDNN_VERBOSE": "profile_exec"}).stdout) == []  # no exec
    assert primitive_lines(_child({"ONEDNN_VERBOSE": "error,debuginfo=2"}).stdout) == []
    for env in ({"ONEDNN_VERBOSE": "loud"}, {"ONEDNN_VERBOSE_TIMESTAMP": "yes"}):
        bad = _child(env)
        assert bad.returncode == 0 and bad.stderr.count("RuntimeWarning") == 1
        assert f"{next(iter(env))}={next(iter(env.values()))!r} ignored" in bad.stderr
