"""benchdnn's driver options as oneDNN's own batch files use them: lists as cross-products,
`\\` continuations, --reset, --match, the data type / direction / attribute options, tags,
strides, bias; and oneDNN's test_conv_smoke, test_conv_ci, test_matmul_smoke and
test_matmul_ci run as written (shipped in dnnl_py/benchdnn/inputs/{conv,matmul}/)."""
import re

import numpy as np
import pytest
from conftest import INPUTS

import dnnl_py as dnnl
from dnnl_py.benchdnn import cli, driver_base, drivers, reference
from dnnl_py.benchdnn.options import Setup
from dnnl_py.benchdnn.problems import batch_lines


def run_cli(capsys, *args):
    status = cli.main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def counts(out: str) -> dict:
    line = next(x for x in out.splitlines() if x.startswith("tests:"))
    return {k: int(v) for k, v in (f.split(":") for f in line.split())}


def setups(*args):
    return [case.setup for case, _ in cli.parse_args(list(args))[1]]


# ---- parsing -----------------------------------------------------------------------

def test_lists_give_the_cross_product():
    got = setups("--conv", "--dt=f32,bf16", "--attr-post-ops=,linear:2:1",
                 "--stag=any,axb", "ic4ih5oc4kh3")
    assert len(got) == 8
    assert {(s.dt, s.stag) for s in got} == {(d, t) for d in (("f32",), ("bf16",))
                                             for t in ("any", "axb")}
    assert {s.post_ops for s in got} == {(), (("eltwise", "eltwise_linear", 2.0, 1.0),)}
    assert setups("--matmul", "--dt=s8:s8:f32", "2x3:3x4")[0].dt == ("s8", "s8", "f32")


def test_line_continuation_joins_a_list(tmp_path):
    f = tmp_path / "b"
    f.write_text("--attr-post-ops=, \\\n       sum:0.5, \\\n  linear:2:1  # end\nic4ih5oc4kh3\n")
    assert list(batch_lines(f))[0] == (1, ["--attr-post-ops=,sum:0.5,linear:2:1"])
    assert len(setups("--conv", f"--batch={f}")) == 3


def test_reset_keeps_the_common_options(tmp_path):
    f = tmp_path / "b"
    f.write_text("--dt=bf16 --mb=1\n--reset\nic4ih5oc4kh3\n")
    final, cases = cli.parse_args(["--conv", "--mode=P", "--max-ms-per-prb=7",
                                   f"--batch={f}"])
    (case, opts), = cases
    assert (opts.mode, opts.max_ms) == ("P", 7)             # common: kept
    assert case.setup == Setup() and case.problem.mb == 2   # driver settings: reset


def test_match_keeps_only_matching_problems():
    _, cases = cli.parse_args(["--conv", "--match=.*conv_basic_2d.*", "--batch=shapes_basic"])
    names = {c.problem.name for c, _ in cases}
    assert len(names) == 18 and all(n.startswith("conv_basic_2d:") for n in names)


@pytest.mark.parametrize("args,message", [
    (["--matmul", "--dir=FWD_I"], "--dir: not an option of the --matmul driver"),
    (["--conv", "--bia_mask=2"], "--bia_mask: not an option of the --conv driver"),
    (["--conv", "--dt=f33"], "--dt=f33: expected a data type"),
    (["--conv", "--dt=f32,s8:s8"], "--dt=f32,s8:s8: 's8:s8': expected a data type"),
    (["--conv", "--dir=FWD"], "--dir=FWD: expected one of FWD_B"),
    (["--conv", "--attr-scales=src:percentile"], "policy 'percentile'"),
    (["--conv", "--attr-scales=src:common:x"], "value 'x' is not a number"),
    (["--conv", "--attr-zero-points=wei:per_oc:s4:32"], "groups '32'"),
    (["--conv", "--attr-fpmath=bf17"], "--attr-fpmath=bf17: expected MODE"),
    (["--conv", "--attr-post-ops=add:f32:per_nothing"], "expected add[:DT[:POLICY"),
    (["--matmul", "--strides=1x2"], "--strides=1x2: expected SRC:WEI:DST"),
    (["--matmul", "--runtime_dims_masks=1"], "expected SRC_MASK:WEI_MASK"),
    (["--conv", "--stag=abdc1"], "unknown format tag"),
    (["--conv", "--match=("], "--match=(: not a regular expression"),
    (["--conv", "--cold-cache=warm"], "--cold-cache=warm: expected none"),
    (["--conv", "--check-ref-impl=maybe"], "expected true or false"),
    (["--conv", "--grouped=2"], "unknown option --grouped"),
])
def test_bad_options_name_the_option(capsys, args, message):
    status, out, err = run_cli(capsys, *args, "ic4ih5oc4kh3")
    assert status == 2 and out == "" and message in err, err


# ---- tags, strides, bias -------------------------------------------------------------

@pytest.mark.parametrize("name,dims,strides", [
    ("abx", [2, 3, 4, 5], [60, 20, 5, 1]),
    ("axb", [2, 3, 4, 5], [60, 1, 15, 3]),
    ("xba", [2, 3, 4, 5], [1, 2, 30, 6]),
    ("acb", [2, 3, 4], [12, 1, 3]),
    ("ba", [3, 4], [1, 3]),
])
def test_letter_and_generic_tags(name, dims, strides):
    assert list(drivers.memory_desc(dims, name).strides) == strides


def test_a_tag_of_the_wrong_rank_is_skipped(capsys):
    status, out, _ = run_cli(capsys, "--matmul", "--stag=abc", "2x3:3x4")
    assert status == 0 and "SKIPPED (--stag=abc: tag abc does not describe 2 dims)" in out


def test_strides_and_tags_reach_the_library(capsys):
    status, out, _ = run_cli(capsys, "--matmul", "--strides=8x1:1x3:4x1",
                             "--attr-post-ops=sum:0.5", "5x3:3x4", "--strides=::",
                             "--stag=ba", "--wtag=ba", "--dtag=ba", "5x3:3x4",
                             "--conv", "--reset", "--stag=axb", "--dtag=xba", "ic4ih5oc6kh3")
    assert status == 0 and counts(out)["passed"] == 3, out


@pytest.mark.parametrize("args", [
    ["--conv", "mb1ic4ih5oc6oh5kh3ph1"],                              # FWD_B: the default
    ["--matmul", "--bia-dt=f32", "--bia_mask=2", "5x3:3x4"],
    ["--matmul", "--bia-dt=f32", "--bia_mask=5", "2x5x3:2x3x4"],
])
def test_bias_is_checked(capsys, monkeypatch, args):
    """The bias reaches the primitive and the reference: without it in the reference the
    check fails; forward inference (no bias) still passes."""
    assert counts(run_cli(capsys, *args)[1])["passed"] == 1
    for driver in drivers.DRIVERS.values():
        ref = driver.reference
        monkeypatch.setattr(driver, "reference", lambda p, data, dtype=np.float64, ref=ref:
                            ref(p, {k: v for k, v in data.items() if k != "bias"}, dtype))
    status, out, _ = run_cli(capsys, *args)
    assert status == 1 and "FAILED (relative error" in out
    if args[0] == "--conv":
        assert counts(run_cli(capsys, "--conv", "--dir=FWD_I", *args[1:])[1])["passed"] == 1


def test_impl_filters_and_ref_check(capsys):
    status, out, _ = run_cli(capsys, "--matmul", "--skip-impl=cpu", "2x3:3x4")
    assert status == 0 and re.search(r"SKIPPED \(implementation cpu:\S+ ruled out by "
                                      r"--skip-impl\)", out)
    assert "ruled out by --impl" in run_cli(capsys, "--matmul", "--impl=ocl:", "2x3:3x4")[1]
    assert counts(run_cli(capsys, "--matmul", "--impl=cpu", "2x3:3x4")[1])["passed"] == 1
    assert run_cli(capsys, "--matmul", "--check-ref-impl=true", "2x3:3x4")[0] == 0


def test_a_library_exception_fails_the_case_not_the_run(capsys, monkeypatch):
    real = drivers.Matmul.primitive

    def broken(pd, *args):
        if pd.query_md(dnnl.ARG_SRC).dims[0] == 3:
            raise ValueError("a kernel bug")
        return real(pd, *args)
    monkeypatch.setattr(drivers.Matmul, "primitive", staticmethod(broken))
    status, out, _ = run_cli(capsys, "--matmul", "3x4:4x5", "2x4:4x5")
    assert status == 1 and "0:FAILED (ValueError: a kernel bug)" in out
    assert "1:PASSED" in out and counts(out)["failed"] == 1


def test_cold_cache_times(capsys):
    status, out, _ = run_cli(capsys, "--mode=P", "--fix-times-per-prb=2", "--cold-cache=all",
                             "--matmul", "8x8:8x8", "--cold-cache=wei", "8x8:8x8")
    assert status == 0 and out.count("\nperf,cpu,") == 1
    assert "SKIPPED (--cold-cache=wei: only none and all are timed)" in out


def test_unsupported_settings_are_skipped_with_the_reason(capsys):
    status, out, _ = run_cli(
        capsys, "--conv", "--dir=BWD_D,FWD_I", "--attr-scratchpad=library,user",
        "--attr-acc-mode=strict,relaxed", "--ctx-init=default,4", "ic4ih5oc4kh3")
    assert status == 0 and counts(out) == {**counts(out), "tests": 16, "passed": 1,
                                           "skipped": 15}
    for reason in ("--dir=BWD_D: dnnl_py has forward propagation only",
                   "--attr-scratchpad=user", "--attr-acc-mode=relaxed", "--ctx-init"):
        assert reason in out


# ---- oneDNN's own batch files, as written ------------------------------------------

FILES = {"test_conv_smoke": "conv", "test_conv_ci": "conv", "test_matmul_smoke": "matmul",
         "test_matmul_ci": "matmul"}


@pytest.mark.parametrize("name", sorted(FILES))
def test_shipped_batch_files_say_where_they_come_from(name):
    head = (INPUTS / FILES[name] / name).read_text().splitlines()[:3]
    assert "oneDNN" in head[0] and "commit" in head[1] and "Apache License" in head[2]


@pytest.mark.parametrize("name", sorted(FILES))
def test_onednn_batch_file_runs_as_written(capsys, name):
    """Every problem of the file either passes or is skipped with its reason; none
    fails and the file is not stopped (the docs/benchdnn.md table holds the counts)."""
    driver = FILES[name]
    status, out, err = run_cli(capsys, f"--{driver}", f"--batch={name}")
    assert status == 0, err
    c = counts(out)
    assert c["failed"] == 0 and c["passed"] > 0
    assert c["tests"] == c["passed"] + c["skipped"] + c["unimplemented"]
    results = [x for x in out.splitlines() if "__REPRO" in x]
    assert len(results) == c["tests"]
    not_passed = [x for x in results if not re.match(r"\d+:PASSED ", x)]
    assert all(re.match(r"\d+:(SKIPPED|UNIMPLEMENTED) \(.+\) __REPRO", x) for x in not_passed)
    if driver == "conv":        # FWD_B, conv's default direction, runs with bias
        assert any(":PASSED __REPRO: --conv --engine=cpu g" in x or
                   re.match(r"\d+:PASSED __REPRO: --conv --engine=cpu (--\S+ )*mb", x)
                   for x in results)


# ---- binary post-ops ---------------------------------------------------------------

HAS_BINARY_POST_OPS = hasattr(dnnl.post_ops, "append_binary")


@pytest.mark.parametrize("spelling,oc_axis,dims", [
    ("add:f32", 1, [1, 1, 1, 1]),
    ("add:f32:common", 1, [1, 1, 1, 1]),
    ("add:f32:per_oc", 1, [1, 6, 1, 1]),
    ("mul:f32:per_oc", 3, [1, 1, 1, 5]),                  # matmul: the last dim
    ("sub:f32:per_tensor:axb", 1, [2, 6, 4, 5]),
    ("max:f32:per_mb_spatial", 1, [2, 1, 4, 5]),
    ("min:f32:per_spatial", 1, [1, 1, 4, 5]),
    ("div:f32:per_w", 1, [1, 1, 1, 5]),
    ("ge:f32:per_dim_01", 1, [2, 6, 1, 1]),
    ("add:f32:12", 1, [1, 1, 4, 5]),                        # an integer mask
])
def test_binary_post_op_src1_dims(spelling, oc_axis, dims):
    assert driver_base.src1_dims(spelling, [2, 6, 4, 5], oc_axis) == dims


def test_binary_post_op_policy_beyond_dst_is_skipped(capsys):
    status, out, _ = run_cli(capsys, "--matmul", "--attr-post-ops=add:f32:per_dim_3",
                             "3x4:4x5")
    assert status == 0 and "0:SKIPPED (--attr-post-ops: " in out
    if HAS_BINARY_POST_OPS:
        assert "per_dim_3 names a dim that the 2-dim dst lacks" in out


@pytest.mark.skipif(HAS_BINARY_POST_OPS, reason="dnnl_py's post_ops has append_binary")
def test_binary_post_ops_skipped_without_append_binary(capsys):
    status, out, _ = run_cli(capsys, "--conv", "--attr-post-ops=add:f32:per_oc",
                             "ic4ih5oc6kh3")
    assert status == 0 and "no append_binary" in out


@pytest.mark.skipif(not HAS_BINARY_POST_OPS,
                    reason="dnnl_py's post_ops has no append_binary (binary post-ops)")
def test_binary_post_ops_run_and_are_checked(capsys, monkeypatch):
    ops = "--attr-post-ops=add:f32,add:f32:per_oc,mul:f32:per_tensor,sub:f32:per_dim_0," \
          "max:f32:per_mb_spatial,add:f32:per_oc+relu+sum:0.5"
    args = ["--conv", ops, "mb2ic4ih5oc6oh5kh3ph1", "--matmul", ops.replace(
        "per_mb_spatial", "per_dim_1"), "3x5:5x7", "2x3x5:2x5x7"]
    status, out, _ = run_cli(capsys, *args)
    assert status == 0 and counts(out)["passed"] == 18, out
    monkeypatch.setitem(reference.BINARY, "add", np.subtract)  # a wrong reference
    status, out, _ = run_cli(capsys, "--matmul", "--attr-post-ops=add:f32:per_oc", "3x5:5x7")
    assert status == 1 and "0:FAILED (relative error" in out
