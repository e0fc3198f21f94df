"""pytest plugin of `make asan`: fails the run at once unless the kernels it imports are
the AddressSanitizer build and libasan is loaded (else the run would pass on the normal
build and prove nothing)."""
import os


def pytest_configure(config):
    import dnnl_py.cpu._kernels as kernels
    want = os.path.realpath(os.environ["DNNL_PY_ASAN_KERNELS"])
    assert os.path.realpath(kernels.__file__) == want, (kernels.__file__, want)
    with open("/proc/self/maps") as maps:
        assert "libasan" in maps.read(), "libasan is not loaded (LD_PRELOAD)"
    from dnnl_py.cpu import pages
    assert pages._ADVICE is None, "large buffers would bypass malloc's redzones"
