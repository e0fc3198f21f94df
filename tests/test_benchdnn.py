"""The benchdnn driver: problem syntax over every shipped shape file and malformed strings,
the im2col reference against the per-tap one, --mode=C/P/CP output on reduced batches
(CPU and OpenCL engines), CSV, usage errors, the progress bar, and the report."""
import csv
import io

import numpy as np
import pytest
from conftest import INPUTS
from reference import conv_fwd

from dnnl_py.benchdnn import cli, drivers, report, run
from dnnl_py.benchdnn import reference as bref
from dnnl_py.benchdnn.problems import (
    ProblemError,
    batch_lines,
    parse_conv,
    parse_matmul,
    parse_post_ops,
    post_ops_str,
    read_batch,
)

SHAPE_FILES = {"shapes_resnet_50": parse_conv, "shapes_bert": parse_matmul,
               "shapes_transformer": parse_matmul}


@pytest.fixture(autouse=True)
def opencl_cache_env(monkeypatch):
    """cli.main turns the OpenCL program caches off (setdefault) for its timings; set
    them here so that the rest of the session keeps its caches (monkeypatch restores)."""
    for name in ("POCL_KERNEL_CACHE", "PYOPENCL_NO_CACHE"):
        monkeypatch.setenv(name, "0" if name == "PYOPENCL_NO_CACHE" else "1")


def summary(tests, passed, skipped=0, failed=0, unimplemented=0):
    """benchdnn's summary line."""
    return (f"tests:{tests} passed:{passed} skipped:{skipped} mistrusted:0 "
            f"unimplemented:{unimplemented} invalid_arguments:0 failed:{failed} listed:0")


def run_cli(capsys, *args):
    status = cli.main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


# ---- problem syntax ----------------------------------------------------------------

def problem_lines(path):
    """(line number, problem) of every problem in a shape file, commented-out ones too:
    the first word of a line (after a leading '#') that holds a problem's marks."""
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        words = line.lstrip("# ").split("#")[0].split()
        if len(words) == 1 and ("ic" in words[0] or ":" in words[0]):
            yield lineno, words[0]


@pytest.mark.parametrize("name", sorted(SHAPE_FILES))
def test_every_shape_line_parses_and_round_trips(name):
    """Every problem of the file parses; its canonical form reads back the same."""
    parse = SHAPE_FILES[name]
    found = list(problem_lines(INPUTS / name))
    assert len(found) >= (40 if parse is parse_conv else 4)
    for lineno, text in found:
        p = parse(text)
        assert parse(str(p)) == p, f"{name}:{lineno}"
        assert p.flops > 0
    assert 0 < len(list(read_batch(INPUTS / name, parse))) < len(found) + 1


@pytest.mark.parametrize("text,fields", [
    ("mb1ic3ih224oc64oh112kh7sh2ph3", dict(mb=1, i=(1, 224, 224), o=(1, 112, 112),
                                          k=(1, 7, 7), s=(1, 2, 2), p=(1 - 1, 3, 3))),
    ("ic16ih10oc32kh3", dict(mb=2, o=(1, 8, 8), p=(0, 0, 0), d=(0, 0, 0))),  # defaults
    ("ic16ih10oc32oh10kh3", dict(p=(0, 1, 1), pr=(0, 1, 1))),      # padding from output
    ("g4mb1ic16ih10iw7oc8kh3kw1dh1", dict(g=4, i=(1, 10, 7), k=(1, 3, 1), d=(0, 1, 0),
                                          o=(1, 6, 7))),
    ("ic4id5oc4kd3pd1", dict(ndims_spatial=3, i=(5, 5, 5), o=(5, 5, 5), p=(1, 1, 1))),
    ("mb1ic4iw9oc4kw3sw2", dict(ndims_spatial=1, i=(1, 1, 9), o=(1, 1, 4))),
    ('mb1_ic4ih5_oc4oh5_kh3ph1_n"net:layer*3"', dict(name="net:layer*3", count=3)),
])
def test_conv_defaults_and_derived_sizes(text, fields):
    p = parse_conv(text)
    for key, value in fields.items():
        assert getattr(p, key) == value, key


@pytest.mark.parametrize("text,message", [
    ("mb1ic64ih56oc64oh56kh3ph1x7", "unknown field 'x'"),
    ("mb1ih56oc64kh3", "field 'ic' is required"),
    ("mb1ic64ih56oc64", "field 'kh' is required"),
    ("mb1ic64oc64", "no spatial size"),
    ("mb1ic64ic32ih5oc64kh3", "field 'ic' given twice"),
    ("mb1ic64ih56oc64kh3sh0", "sizes along h must be positive"),
    ("mb1ic64ih2oc64kh5", "sizes along h must be positive"),
    ("g3mb1ic64ih5oc64kh3", "must divide by g3"),
    ("mb1ic64 ih56oc64kh3", "unexpected ' ' at position 7"),
    ("mb-1ic64ih5oc64kh3", "unexpected"),
])
def test_malformed_conv_names_the_field(text, message):
    with pytest.raises(ProblemError, match=message.replace("(", r"\(")):
        parse_conv(text)


@pytest.mark.parametrize("text,message", [
    ("128x768", "expected SRC:WEIGHTS"),
    ("128x768:769x3072", "do not multiply"),
    ("12x128x64:13x64x128", "do not multiply"),
    ("12x128x64:64x128", "do not multiply"),
    ("128xaa:768x3072", "src dims '128xaa' are not integers"),
    ("128:128x1", "src needs at least 2 positive dims"),
    ("128x768:768x3072:128x3073", "dst 128x3073 should be 128x3072"),
])
def test_malformed_matmul_names_the_part(text, message):
    with pytest.raises(ProblemError, match=message):
        parse_matmul(text)


def test_matmul_broadcast_and_dst():
    p = parse_matmul('1x128x64:12x64x128:12x128x128_n"qk"')
    assert (p.name, p.flops) == ("qk", 2 * 12 * 128 * 64 * 128)
    assert parse_matmul(str(p)) == p


def test_post_ops_syntax():
    ops = parse_post_ops("relu+sum:0.5+linear:2:1")
    assert ops == (("eltwise", "eltwise_relu", 0.0, 0.0), ("sum", 0.5),
                   ("eltwise", "eltwise_linear", 2.0, 1.0))
    assert parse_post_ops(post_ops_str(ops)) == ops
    for bad, message in [("relux", "relux"), ("sum:a", "must be numbers"),
                         ("relu:1:2:3", "ELTWISE")]:
        with pytest.raises(ProblemError, match=message):
            parse_post_ops(bad)


def test_batch_file_comments_and_options(tmp_path):
    f = tmp_path / "b"
    f.write_text("# a comment\n\n--mb=1 mb4ic4ih5oc4oh5kh3ph1  # trailing\n"
                 "   mb2ic4ih5oc4oh5kh3ph1n\"x*2\"\n")
    assert list(batch_lines(f)) == [(3, ["--mb=1", "mb4ic4ih5oc4oh5kh3ph1"]),
                                    (4, ['mb2ic4ih5oc4oh5kh3ph1n"x*2"'])]
    _, cases = cli.parse_args(["--conv", f"--batch={f}"])
    assert [c.problem.mb for c, _ in cases] == [1, 1]        # --mb applies onwards
    assert cases[1][0].problem.count == 2


def test_shipped_report_set_parses():
    _, cases = cli.parse_args(["--batch=report_set"])
    kinds = {c.driver.name for c, _ in cases}
    assert kinds == {"conv", "matmul"} and len(cases) >= 10


# ---- the references ----------------------------------------------------------------

@pytest.mark.parametrize("n,c,sp,g,oc,k,s,d,pl,pr", [
    (2, 6, (9,), 3, 9, (3,), (2,), (1,), (1,), (0,)),
    (3, 8, (7, 10), 2, 4, (3, 2), (1, 2), (0, 1), (1, 0), (2, -1)),
    (1, 4, (5, 6, 7), 1, 5, (2, 3, 1), (2, 1, 1), (1, 0, 0), (0, 1, 0), (1, 1, 0)),
    (5, 3, (11, 11), 1, 7, (7, 7), (2, 2), (0, 0), (3, 3), (3, 3)),
])
def test_im2col_reference_matches_per_tap_reference(rng, n, c, sp, g, oc, k, s, d, pl, pr):
    x = rng.standard_normal((n, c, *sp))
    w = rng.standard_normal((g, oc // g, c // g, *k))
    b = rng.standard_normal(oc)
    want = conv_fwd(x, w, b, s, d, pl, pr, g)
    np.testing.assert_allclose(bref.conv_im2col(x, w, b, s, d, pl, pr), want, atol=1e-12)
    got32 = bref.conv_im2col(x.astype(np.float32), w.astype(np.float32), b, s, d, pl, pr,
                             np.float32)
    assert got32.dtype == np.float32
    np.testing.assert_allclose(got32, want, rtol=1e-4, atol=1e-4)


def test_im2col_reference_chunks_the_batch(monkeypatch, rng):
    x, w = rng.standard_normal((5, 4, 6, 6)), rng.standard_normal((1, 3, 4, 3, 3))
    whole = bref.conv_im2col(x, w, None, (1, 1), (0, 0), (1, 1), (1, 1))
    monkeypatch.setattr(bref, "_COLUMN_CHUNK", 1)             # one image per chunk
    np.testing.assert_array_equal(bref.conv_im2col(x, w, None, (1, 1), (0, 0), (1, 1),
                                                   (1, 1)), whole)


# ---- the command line --------------------------------------------------------------

def test_mode_c_on_resnet_50_at_mb1(capsys):
    status, out, _ = run_cli(capsys, "--conv", "--mb=1",
                             "--batch=shapes_resnet_50")  # found in inputs/
    lines = out.splitlines()
    n = len(list(read_batch(INPUTS / "shapes_resnet_50", parse_conv)))
    assert status == 0
    assert [line.split(" __REPRO: --conv --engine=cpu ")[0] for line in lines[:n]] == \
        [f"{i}:PASSED" for i in range(n)]
    assert all(" mb1ic" in line for line in lines[:n])
    assert lines[-2] == summary(n, n)
    assert lines[-1].startswith("total: ")


def test_mode_c_matmul_batches_with_post_ops(capsys):
    status, out, _ = run_cli(capsys, "--matmul", "--attr-post-ops=relu+sum:0.5",
                             "12x128x64:12x64x128", "1x40x64:16x64x40", "3x5:5x7")
    assert status == 0
    assert "tests:3 passed:3" in out
    assert "--attr-post-ops=relu+sum:0.5 12x128x64:12x64x128" in out


def test_matmul_of_seven_and_more_dims(capsys):
    """Format tags stop at 6 dims; the driver's plain user memory does not."""
    status, out, _ = run_cli(capsys, "--matmul", "2x1x2x1x2x3x4:1x2x1x2x2x4x5",
                             "1x2x1x1x1x1x1x3x4:2x1x1x1x1x1x1x4x5")
    assert status == 0 and "tests:2 passed:2" in out


def test_problem_larger_than_memory_is_skipped(capsys, monkeypatch):
    """As benchdnn: refused up front by its size, or skipped when an allocation fails;
    the run goes on."""
    status, out, _ = run_cli(capsys, "--matmul", "1000000x1000000:1000000x1000000", "3x4:4x5")
    assert status == 0
    assert out.startswith("0:SKIPPED (needs about 6.71e+04 GiB")
    assert "1:PASSED" in out and summary(2, 1, skipped=1) in out

    def no_memory(*args, **kwargs):
        raise MemoryError("Unable to allocate 1 TiB")
    monkeypatch.setattr(run, "inputs", no_memory)
    status, out, _ = run_cli(capsys, "--matmul", "3x4:4x5")
    assert status == 0 and out.startswith("0:SKIPPED (out of memory: Unable to allocate")


def test_ctrl_c_prints_the_summary_so_far(capsys, monkeypatch):
    real = cli.run_case

    def interrupted_at_the_second(case, *args):
        if case.problem.src == (5, 6):
            raise KeyboardInterrupt
        return real(case, *args)
    monkeypatch.setattr(cli, "run_case", interrupted_at_the_second)
    status, out, _ = run_cli(capsys, "--matmul", "3x4:4x5", "5x6:6x7", "7x8:8x9")
    assert status == 130 and "Traceback" not in out
    assert "interrupted after 1 of 3 problems\n" + summary(1, 1) in out


def test_mode_c_reports_a_wrong_answer(capsys, monkeypatch):
    """A kernel result that differs from the reference is FAILED, with where and how much."""
    real = drivers.Conv.reference

    def off_by_one_at_17(self, *args, **kwargs):
        ref = real(self, *args, **kwargs)
        if ref.size > 17:
            ref.flat[17] += 1
        return ref
    monkeypatch.setattr(drivers.Conv, "reference", off_by_one_at_17)
    status, out, _ = run_cli(capsys, "--conv", "ic3ih5oc4oh5kh3ph1", "mb1ic3ih3oc1kh3")
    assert status == 1
    first, second = out.splitlines()[:2]
    assert first.startswith("0:FAILED (relative error") and "at dst[0,0,3,2]" in first
    assert second.startswith("1:PASSED")
    assert summary(2, 1, failed=1) in out


def test_unimplemented_is_skipped(capsys, ocl):
    """The OpenCL implementations take plain layouts only: a blocked source is skipped."""
    status, out, _ = run_cli(capsys, "--engine=gpu", "--stag=aBcd16b", "--conv",
                             "mb1ic16ih5oc16oh5kh3ph1")
    assert status == 0
    assert out.startswith("0:UNIMPLEMENTED (")
    assert summary(1, 0, unimplemented=1) in out


def test_modes_on_the_opencl_engine(capsys, ocl):
    status, out, err = run_cli(capsys, "--engine=gpu", "--mode=CP", "--fix-times-per-prb=2",
                               "--conv", "g2mb1ic8ih9oc8oh5kh3sh2ph1", "--matmul",
                               "2x17x33:2x33x9")
    assert status == 0, out + err
    perf = [line for line in out.splitlines() if line.startswith("perf,")]
    assert [line.split(",")[1:3] for line in perf] == [["gpu", "ocl:conv:igemm"],
                                                       ["gpu", "ocl:gemm:tiled"]]
    assert "tests:2 passed:2" in out


def test_mode_p_perf_lines(capsys):
    status, out, _ = run_cli(capsys, "--mode=P", "--fix-times-per-prb=3", "--conv",
                             'mb1ic16ih12oc32oh12kh3ph1n"small"')
    assert status == 0
    template, line, last, total_perf, _ = out.splitlines()
    assert template == f"Output template: {cli.PERF_TEMPLATE}"
    fields = line.split(",")
    assert fields[:4] == ["perf", "cpu", fields[2], '"small"'] and fields[2].startswith("cpu:")
    gops, miss, hit, blob, tmin, gfmin, tavg, gfavg = map(float, fields[5:])
    assert gops == pytest.approx(2 * 16 * 32 * 144 * 9 / 1e9, rel=1e-5)  # %.6g
    assert 0 < hit < miss and 0 < blob and 0 < tmin <= tavg
    assert gfmin == pytest.approx(gops / tmin * 1e3, rel=1e-3)
    assert last == summary(1, 1)
    assert total_perf.startswith("total perf: min(ms):")


def test_csv_template(capsys):
    status, out, err = run_cli(capsys, "--mode=CP", "--perf-template=csv",
                               "--fix-times-per-prb=1", "--matmul", "8x16:16x4_n\"a,b\"",
                               "--mode=C", "4x4:4x4")
    assert status == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["state"] for r in rows] == ["PASSED", "PASSED"]
    assert rows[0]["name"] == "a,b" and float(rows[0]["min_gflops"]) > 0
    assert rows[1]["min_ms"] == ""                       # --mode=C: not timed
    assert "tests:2 passed:2" in err                     # stdout is CSV only


@pytest.mark.parametrize("args,message", [
    (["--mode=Q", "ic3ih5oc4kh3"], "--mode=Q: expected C, P or CP"),
    (["--engine=tpu"], "--engine=tpu: expected cpu or gpu"),
    (["--mb=-1"], "--mb=-1: expected an integer >= 0"),
    (["--frobnicate=1"], "unknown option --frobnicate"),
    (["--stag=nhwcx"], "--stag=nhwcx: unknown format tag"),
    (["--batch=/no/such/file"], "--batch=/no/such/file: no such file"),
    (["--conv", "mb1ic3oc4"], "'mb1ic3oc4': no spatial size"),
    (["--mode=C"], "no problem given"),
])
def test_usage_errors(capsys, args, message):
    status, out, err = run_cli(capsys, *args)
    assert status == 2 and out == ""
    assert err.startswith("error: ") and message in err


def test_batch_file_errors_name_file_and_line(capsys, tmp_path):
    f = tmp_path / "shapes"
    f.write_text("ic3ih5oc4kh3\n\n# ok so far\nic3ih5oc4kh3x\n")
    status, _, err = run_cli(capsys, "--conv", f"--batch={f}")
    assert status == 2 and f"{f}:4: 'ic3ih5oc4kh3x': unexpected 'x' at position 12" in err


def test_help(capsys):
    status, out, _ = run_cli(capsys, "--help")
    assert status == 0 and "--attr-post-ops=LIST" in out
    assert run_cli(capsys)[0] == 2                       # no arguments: usage, status 2


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_only_on_a_terminal():
    tty, pipe = FakeTerminal(), io.StringIO()
    for stream in (tty, pipe):
        bar = cli.Progress(4, stream)
        bar.draw(2, "res2a")
        bar.clear()
    assert "[###############...............] 2/4 res2a" in tty.getvalue()
    assert pipe.getvalue() == ""


# ---- the report --------------------------------------------------------------------

def test_report_on_two_tiny_problems(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    target = tmp_path / "perf.md"
    kept = f"{report.KEEP_MARKER}\n## vs oneDNN\nwritten by hand\n"
    target.write_text("an old report\n" + kept)
    status, _, err = run_cli(capsys, "--fix-times-per-prb=2", f"--report={target}",
                             "--conv", 'mb1ic8ih10oc8oh10kh3ph1n"tiny_conv"', "--matmul",
                             '16x32:32x24_n"tiny_mm"')
    assert status == 0, err
    for png in ("gflops.png", "creation.png"):
        assert (tmp_path / "perf" / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = target.read_text()
    assert "](perf/gflops.png)" in text and "CPU: " in text
    for name in ("tiny_conv", "tiny_mm"):
        row = next(line for line in text.splitlines() if line.startswith(f"| {name} | "))
        cells = [c.strip() for c in row.strip("|").split("|")]
        # problem, GFLOP, then GFLOP/s of dnnl cpu [, dnnl ocl], numpy [, torch], ratio
        assert float(cells[1]) > 0 and all(float(c) > 0 for c in cells[2:-1])
        assert cells[-1].endswith("x")
        assert f"| {name} | dnnl cpu | cpu:" in text           # creation row
    assert "an old report" not in text and text.endswith(kept)  # the hand-written part stays
