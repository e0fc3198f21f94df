"""Build dnnl_py's compiled CPU core: the C kernels in csrc/ behind one Cython module."""
import glob
import os
import subprocess
from pathlib import Path

import numpy
import scipy_openblas32
from Cython.Build import cythonize
from setuptools import Extension, find_packages, setup

VERSION = "0.1.0"


def git_hash() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             cwd=Path(__file__).parent, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


# The version and git hash identify the build; cache blob ids include them.
Path("dnnl_py/_build_info.py").write_text(
    f'"""Written by setup.py at build time."""\nVERSION = "{VERSION}"\nGIT_HASH = "{git_hash()}"\n')

# SGEMM comes from OpenBLAS linked here, from the scipy-openblas32 wheel (numpy's and
# SciPy's own build, symbols prefixed scipy_), not from scipy.linalg.cython_blas, whose
# package import cost ~200 ms of each process's first engine. The run-time search path
# finds the library beside an installed dnnl_py (site-packages/scipy_openblas32/lib) or,
# for an in-place build, where the wheel is installed now.
BLAS_LIB_DIR = scipy_openblas32.get_lib_dir()
# DNNL_PY_SANITIZE=address: the kernels built with AddressSanitizer, for `make asan` (its
# own build directory, libasan preloaded; docs/hardening.md). Unset: the normal build.
SANITIZE = os.environ.get("DNNL_PY_SANITIZE", "")
SANITIZE_FLAGS = [f"-fsanitize={SANITIZE}", "-fno-omit-frame-pointer", "-g"] if SANITIZE else []

kernels = Extension(
    "dnnl_py.cpu._kernels",
    sources=["dnnl_py/cpu/_kernels.pyx", *sorted(glob.glob("csrc/*.c"))],
    include_dirs=["csrc", numpy.get_include(), scipy_openblas32.get_include_dir()],
    library_dirs=[BLAS_LIB_DIR],
    libraries=[scipy_openblas32.get_library()],
    runtime_library_dirs=["$ORIGIN/../../scipy_openblas32/lib", BLAS_LIB_DIR],
    # No -march=native: csrc/isa.h picks AVX-512/AVX2 clones at run time. gnu11, not
    # c11: strict ISO mode turns off FMA contraction (-ffp-contract=off). No errno and no
    # FP traps (we read neither; values, NaN and inf are unchanged): without them GCC
    # vectorises no loop that calls sqrtf or selects between exp_f's branches.
    extra_compile_args=["-O3", "-fopenmp", "-std=gnu11", "-Wall", "-Wno-unused-function",
                        "-fno-math-errno", "-fno-trapping-math", *SANITIZE_FLAGS],
    extra_link_args=["-fopenmp", *SANITIZE_FLAGS],
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
)

setup(
    name="dnnl_py",
    version=VERSION,
    packages=find_packages(include=["dnnl_py", "dnnl_py.*"]),
    ext_modules=cythonize([kernels], language_level=3),
    install_requires=["numpy>=1.24", "scipy>=1.10", "scipy-openblas32>=0.3.27"],
    # the OpenCL engine; PoCL gives a CPU OpenCL device where there is no GPU
    extras_require={"opencl": ["pyopencl>=2024.1"], "pocl": ["pocl-binary-distribution>=3.0"],
                    "report": ["matplotlib>=3.7"]},
    package_data={"dnnl_py.ocl": ["kernels/*.cl"], "dnnl_py.benchdnn": ["inputs/*"]},
    python_requires=">=3.10",
)
