"""The memory-bound benchdnn drivers (--pool, --eltwise, --binary, --softmax, --lnorm,
--bnorm, --concat): problem syntax, --mode=C against the float64 references (and a wrong
reference caught), bad problems and options, --mode=P in GB/s, and oneDNN's
test_<driver>_smoke files run as written."""
import re

import numpy as np
import pytest
from conftest import INPUTS

from dnnl_py.benchdnn import cli, drivers
from dnnl_py.benchdnn.problems import (
    parse_bnorm,
    parse_dims,
    parse_dims_list,
    parse_pool,
)

MEMORY_BOUND = ("pool", "eltwise", "binary", "softmax", "lnorm", "bnorm", "concat")


def run_cli(capsys, *args):
    status = cli.main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def counts(out: str) -> dict:
    line = next(x for x in out.splitlines() if x.startswith("tests:"))
    return {k: int(v) for k, v in (f.split(":") for f in line.split())}


# ---- problem syntax ----------------------------------------------------------------

@pytest.mark.parametrize("parse,text,fields", [
    (parse_pool, "mb1ic64ih112oh56kh3sh2ph1", dict(mb=1, ic=64, o=(1, 56, 56), pr=(0, 0, 0))),
    (parse_pool, 'mb8ic32_ih32oh16kh3sh2_n"pool_ci_2d:regular"',
     dict(p=(0, 0, 0), pr=(0, 1, 1), name="pool_ci_2d:regular")),
    (parse_pool, "ic16_ih20oh9kh3sh2ph0", dict(mb=2, pr=(0, -1, -1))),
    (parse_pool, "ic5_iw15ow14kw3sw1pw1", dict(ndims_spatial=1, i=(1, 1, 15))),
    (parse_bnorm, "mb5ic33iw27", dict(dims=(5, 33, 27))),
    (parse_bnorm, 'ic256ih28_n"x"', dict(dims=(2, 256, 28, 28), name="x")),
    (parse_bnorm, "ic16id12", dict(dims=(2, 16, 12, 12, 12))),
    (parse_bnorm, "ic23", dict(dims=(2, 23))),
    (parse_dims, '16x16x2x1_n"eltwise_ci_2d:0"', dict(dims=(16, 16, 2, 1))),
    (parse_dims_list, "1x64x56x56:1x64x1x1", dict(parts=((1, 64, 56, 56), (1, 64, 1, 1)))),
])
def test_problem_syntax(parse, text, fields):
    p = parse(text)
    for key, value in fields.items():
        assert getattr(p, key) == value, key
    assert parse(str(p)) == p


@pytest.mark.parametrize("args,message", [
    (["--pool", "mb1ic4"], "no spatial size"),
    (["--pool", "mb1ic4oc4ih5kh3"], "unknown field 'oc'"),
    (["--pool", "mb1ih5kh3"], "field 'ic' is required"),
    (["--bnorm", "ic4ih0"], "sizes must be positive"),
    (["--eltwise", "2xax3"], "are not integers joined by 'x'"),
    (["--softmax", "2x3:4"], "expected one set of dims"),
    (["--binary", "2x0:2"], "must be positive"),
    (["--eltwise", "--alg=frobnicate"], "--alg=frobnicate: expected one of abs"),
    (["--lnorm", "--flags=X"], "--flags=X: expected flag letters from GCHM"),
    (["--eltwise", "--axis=1"], "--axis: not an option of the --eltwise driver"),
    (["--binary", "--stag=axb:nhwcx"], "unknown format tag"),
    (["--softmax", "--inplace=yes"], "--inplace=yes: expected true or false"),
    (["--eltwise", "--alpha=x"], "--alpha=x: 'x' is not a number"),
    (["--report=/tmp/never.md", "--pool", "ic4ih5kh3"], "--report: conv and matmul"),
])
def test_bad_problems_and_options(capsys, args, message):
    status, out, err = run_cli(capsys, *args, *(["2x3"] if args[-1].startswith("--")
                                                  else []))
    assert status == 2 and out == "" and message in err, err


@pytest.mark.parametrize("args,reason", [
    (["--softmax", "--axis=2", "4x5"], "--axis=2: the problem has 2 dims"),
    (["--concat", "--axis=1", "2x3:3x3"], "the sources' dims differ outside --axis=1"),
    (["--binary", "2x3:3x3"], "src0 dims [2, 3] and src1 dims [3, 3] do not broadcast"),
    (["--binary", "2x3:2x3:2x3"], "3 sources (binary takes 2)"),
    (["--eltwise", "--alg=relu_dst", "2x3"], "--alg=relu_dst: not one of dnnl_py's"),
    (["--bnorm", "--flags=GA", "--dir=FWD_I", "ic4ih3"], "--flags=A: fuse_norm_add_relu"),
    (["--pool", "--tag=abc", "ic4ih5kh3"], "--tag=abc: tag abc does not describe 4 dims"),
])
def test_problems_the_driver_cannot_run_are_skipped(capsys, args, reason):
    status, out, _ = run_cli(capsys, *args)
    assert status == 0 and f"0:SKIPPED ({reason}" in out, out


# ---- checks against the references -------------------------------------------------

CHECKED = {
    "pool": ["--alg=MAX,avg_np,AVG_P", "mb2ic5ih9oh4kh3sh2ph0", "ic3iw11ow6kw3sw2pw1",
             "mb1ic4id6ih5iw7od3oh3ow4kd2kh3kw2sd2sh2sw2pd0ph1pw1", "ic4ih8oh4kh3sh2dh1ph1",
             "--tag=axb", "mb2ic17ih8kh2sh2"],
    "eltwise": ["--alg=relu,tanh,elu,square,abs,sqrt,linear,soft_relu,logistic,exp,gelu_tanh,"
                "gelu_erf,swish,log,clip,pow,round,hardswish,hardsigmoid", "--alpha=0.5",
                "--beta=1.5", "3x7x5", "--inplace=true", "--tag=axb", "2x5x3x3"],
    "binary": ["--alg=add,sub,mul,div,max,min,ge,gt,le,lt,eq,ne", "2x16x5x5:1x16x1x1",
               "3x5:3x5", "--alg=add", "--attr-post-ops=,relu,sum:0.5+linear:2:1",
               "4x3x2:4", "--inplace=true", "--stag=axb:abx", "--dtag=axb", "2x8x3x3:2x8x3x3"],
    "softmax": ["--alg=SOFTMAX,LOGSOFTMAX", "--axis=0,1", "7x33", "--axis=3", "2x3x4x17",
                "--stag=axb", "--dtag=axb", "--axis=1", "2x19x3x5"],
    "lnorm": ["--dir=FWD_D,FWD_I", "--flags=,G,C,H,CH,GCH", "5x3x40", "--stat_tag=ba",
              "3x4x40"],
    "bnorm": ["--dir=FWD_I", "--flags=,G,GC,GH,GCH,GCHR", "mb3ic5ih4iw3", "ic7", "--tag=axb",
              "mb2ic6id2ih3iw4"],
    "concat": ["--axis=0,1,2", "2x3x4:2x3x4", "--axis=1", "2x3x4:2x5x4:2x1x4",
               "--dtag=abc,acb", "--stag=acb:abc", "3x2x4:3x7x4"],
}


def test_conv_algorithms_in_either_case(capsys):
    """--alg as benchdnn compares it (strcasecmp): WINO runs cpu:wino_2x3, checked against
    the reference like auto and DIRECT."""
    status, out, _ = run_cli(capsys, "--conv", "--alg=WINO,auto,DIRECT",
                             "mb2ic16ih9oc32oh9kh3ph1")
    c = counts(out)
    assert status == 0 and c["passed"] == c["tests"] == 3, out


@pytest.mark.parametrize("driver", MEMORY_BOUND)
def test_checked_against_the_reference(capsys, driver):
    status, out, _ = run_cli(capsys, f"--{driver}", *CHECKED[driver])
    c = counts(out)
    assert status == 0 and c["passed"] == c["tests"] > 0, out


@pytest.mark.parametrize("driver", MEMORY_BOUND)
def test_a_wrong_reference_is_caught(capsys, monkeypatch, driver):
    """Off by 1e-3 at one element of dst, the check fails there: the reference and the
    primitive really are compared."""
    real = type(drivers.DRIVERS[driver]).reference

    def off(self, *args, **kwargs):
        ref = real(self, *args, **kwargs)
        dst = ref["dst"] if isinstance(ref, dict) else ref
        dst.flat[dst.size // 2] += 1e-3 * max(1.0, float(np.abs(dst).max()))
        return ref
    monkeypatch.setattr(type(drivers.DRIVERS[driver]), "reference", off)
    first = next(i for i, a in enumerate(CHECKED[driver]) if not a.startswith("--"))
    args = CHECKED[driver][:first + 1]            # the options before it and one problem
    status, out, _ = run_cli(capsys, f"--{driver}", *args)
    assert status == 1 and re.search(r"0:FAILED \(relative error \S+ > \S+ at dst\[", out), out


def test_training_statistics_are_checked(capsys, monkeypatch):
    real = drivers.DRIVERS["lnorm"].__class__.reference

    def off(self, *args, **kwargs):
        ref = real(self, *args, **kwargs)
        ref["variance"] = ref["variance"] * 1.01
        return ref
    assert counts(run_cli(capsys, "--lnorm", "--dir=FWD_D", "6x30")[1])["passed"] == 1
    monkeypatch.setattr(drivers.DRIVERS["lnorm"].__class__, "reference", off)
    status, out, _ = run_cli(capsys, "--lnorm", "--dir=FWD_D", "6x30", "--dir=FWD_I", "6x30")
    assert status == 1 and "0:FAILED (relative error" in out and "at variance[" in out
    assert "1:PASSED" in out              # inference writes no statistics


def test_mode_p_is_in_gb_per_second(capsys):
    status, out, _ = run_cli(capsys, "--mode=P", "--fix-times-per-prb=2", "--binary",
                             "2x16x8x8:1x16x1x1")
    assert status == 0
    template, line = out.splitlines()[:2]
    assert template.endswith("%Gbytes%,%ctime_miss%,%ctime_hit%,%ctime_blob%,%-time%,"
                             "%-GBps%,%0time%,%0GBps%")
    fields = line.split(",")
    gbytes, tmin, gbps = float(fields[5]), float(fields[9]), float(fields[10])
    assert gbytes == pytest.approx(4 * (2 * 2048 + 16) / 1e9, rel=1e-5)
    assert gbps == pytest.approx(gbytes / tmin * 1e3, rel=1e-3)


# ---- oneDNN's smoke files, as written ----------------------------------------------

@pytest.mark.parametrize("driver", MEMORY_BOUND)
def test_onednn_smoke_file_runs_as_written(capsys, driver):
    name = f"test_{driver}_smoke"
    assert "oneDNN" in (INPUTS / driver / name).read_text().splitlines()[0]
    status, out, err = run_cli(capsys, f"--{driver}", f"--batch={name}")
    assert status == 0, err
    c = counts(out)
    assert c["failed"] == 0 and c["passed"] > 0
    assert c["tests"] == c["passed"] + c["skipped"] + c["unimplemented"] + \
        c["invalid_arguments"]


def test_every_driver_on_the_opencl_engine(capsys, ocl):
    status, out, _ = run_cli(
        capsys, "--engine=gpu", "--pool", "--alg=max,avg_np", "mb2ic5ih9oh4kh3sh2ph0",
        "--eltwise", "--alg=gelu_erf", "3x7x5", "--binary", "2x16x5x5:1x16x1x1",
        "--softmax", "7x33", "--lnorm", "--flags=CH", "5x3x40", "--bnorm", "--dir=FWD_I",
        "--flags=GCH", "mb3ic5ih4iw3", "--concat", "2x3x4:2x5x4")
    assert status == 0 and counts(out)["passed"] == 8, out
