"""Every OpenCL source keeps off 16-wide vectors in built-in calls.

PoCL 3.0 from PyPI bundles LLVM 14, which does not know AMD Zen 4: it targets znver3 (no
AVX-512) while PoCL picks its built-in library by the CPU's flags (built for
skylake-avx512). A built-in that takes or returns a 16-wide vector (vload16, select or
tanh on a float16, ...) then crosses two calling conventions and LLVM aborts the process.
Intel machines never show it, so this check reads the sources instead of waiting for an
AMD machine: after the C preprocessor (so that macros like ELTWISE are expanded where
they are used), in each function, no call to a function the file does not define may
name a 16-wide type, be named ...16, or take a value declared 16-wide (its .lo/.hi halves
are fine), and no function takes or returns a 16-wide value (the same ABI mismatch; LLVM
warns "changes the ABI"; pass a pointer). Plain 16-wide loads and stores through a pointer
and arithmetic are fine."""
import pathlib
import re
import shutil
import subprocess

import pytest

KERNELS = pathlib.Path(__file__).resolve().parents[1] / "dnnl_py" / "ocl" / "kernels"
WIDE_TYPE = r"\b(?:u?char|u?short|u?int|u?long|float|double|half)16\b"
WIDE_DECL = re.compile(WIDE_TYPE + r"\s*\**\s*(?:const\s+)?(?:restrict\s+)?([A-Za-z_]\w*)")
HALF = re.compile(r"\(?\b[A-Za-z_]\w*(?:\[[^\]]*\])*\)?\.(?:lo|hi|even|odd)\b")
CALL = re.compile(r"\b([A-Za-z_]\w*)\s*\(")
NOT_CALLS = {"if", "for", "while", "switch", "return", "sizeof", "__attribute__"}


def preprocessed(text: str, value: int) -> str:
    """text through the C preprocessor with every #if name set to `value`: one pass with
    each branch of an #if/#else."""
    names = set(re.findall(r"\b[A-Z_][A-Z0-9_]*\b", " ".join(
        re.findall(r"^\s*#\s*(?:el)?if\b(.*)$", text, re.M)))) - {"defined"}
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler for the preprocessor")
    out = subprocess.run([cc, "-E", "-P", "-x", "c", "-", *(f"-D{n}={value}" for n in names)],
                         input=text, capture_output=True, text=True, check=True)
    return out.stdout


def functions(text: str):
    """(signature + body) of each top-level function, and the names defined."""
    found, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "{":
            if depth == 0:
                start_sig = text.rfind(";", 0, i) + 1
                start = max(start_sig, text.rfind("}", 0, i) + 1)
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                found.append(text[start:i + 1])
    names = {m.group(1) for f in found for m in [CALL.search(f.split("{")[0])] if m}
    return found, names


def call_args(text: str, open_paren: int) -> str:
    depth = 0
    for i in range(open_paren, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return text[open_paren + 1:i]
    return text[open_paren + 1:]


def wide_builtin_calls(text: str) -> list:
    """'function: call(...)' for each built-in call that touches a 16-wide vector."""
    bad = []
    for value in (0, 99):
        funcs, defined = functions(preprocessed(text, value))
        for func in funcs:
            signature = func.split("{")[0]
            if re.search(WIDE_TYPE + r"(?!\s*\*)", signature):
                bad.append(f"takes or returns a 16-wide value: {signature.strip()}")
            wide = set(WIDE_DECL.findall(func))
            for m in CALL.finditer(func):
                name = m.group(1)
                if name in NOT_CALLS or name in defined or re.fullmatch(WIDE_TYPE, name):
                    continue
                args = HALF.sub("half_", call_args(func, m.end() - 1))
                if name.endswith("16") or re.search(WIDE_TYPE, args) or \
                        wide & set(re.findall(r"\b\w+\b", args)):
                    bad.append(f"{CALL.search(func.split('{')[0]).group(1)}: {name}({args})")
    return sorted(set(bad))


@pytest.mark.parametrize("path", sorted(KERNELS.glob("*.cl")), ids=lambda p: p.name)
def test_no_call_passes_a_16_wide_vector(path):
    assert wide_builtin_calls(path.read_text()) == []


@pytest.mark.parametrize("snippet", [
    "__kernel void k(__global float *a) { vstore16(vload16(0, a), 0, a); }",
    "__kernel void k(__global float16 *a) { float16 x = a[0]; a[0] = select(x, -x, x > 0); }",
    "static float16 f(float16 x) { return tanh(x); }",
    "#define ACT(x) exp(x)\n#if N > 1\nstatic float16 f(float16 x) { return ACT(x); }\n#endif",
    "__kernel void k(__global float *a) { float16 acc[2]; acc[0] = 0;"
    " a[0] = fmax(acc[1], 1.0f).s0; }",
    "__kernel void k(__global int *a) { a[0] = convert_int16(0.5f).s3; }",
    "static float16 twice(float16 x) { return x + x; }",
])
def test_the_check_finds_wide_builtins(snippet):
    assert wide_builtin_calls(snippet)


@pytest.mark.parametrize("snippet", [
    "__kernel void k(__global const float *a, __global float *b) {"
    " float16 x = ((const __global float16 *)a)[0]; b[0] = x.s0 * 2.0f; }",
    "static float8 f(float8 x) { return tanh(x); }\n"
    "__kernel void k(__global float *a) { float16 v = 1.0f;"
    " v.lo = f(v.lo); v.hi = tanh(v.hi); vstore8(v.lo, 0, a); a[0] = min(1.0f, a[1]); }",
    "__kernel void k(__global float *a) { float16 y = (float16)(vload8(0, a), vload8(1, a));"
    " a[0] = y.s1 > 0 ? y.s1 : 0; }",
])
def test_the_check_passes_narrow_builtins(snippet):
    assert wide_builtin_calls(snippet) == []


def test_no_ocl_module_is_named_like_a_standard_one():
    """The build worker is a script in dnnl_py/ocl/: a module there named like one of the
    standard library's (an ocl/copy.py once) would shadow it if that folder led sys.path."""
    import sys
    names = {p.stem for p in KERNELS.parent.glob("*.py")}
    assert names & set(sys.stdlib_module_names) == set()
