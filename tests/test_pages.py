"""cpu/pages.py: large host buffers on 2 MiB-aligned maps advised for huge pages."""
import numpy as np
import pytest

import dnnl_py as dnnl
from dnnl_py.cpu import pages


def _vm_flags(address: int) -> list:
    """VmFlags of the map holding address (Linux's /proc/self/smaps)."""
    with open("/proc/self/smaps") as f:
        inside = False
        for line in f:
            head = line.split()[0]
            if "-" in head and ":" not in head:
                lo, hi = (int(x, 16) for x in head.split("-"))
                inside = lo <= address < hi
            elif inside and head == "VmFlags:":
                return line.split()[1:]
    raise AssertionError(f"no map holds {address:#x}")


def test_small_buffers_are_plain_numpy():
    a = pages.zeros(1000, np.float32)
    assert a.shape == (1000,) and a.dtype == np.float32 and not a.any()


@pytest.mark.parametrize("count", [pages.HUGE_PAGE // 4, pages.HUGE_PAGE // 4 * 3 + 5])
def test_large_buffers_are_aligned_zeroed_and_writable(count):
    a = pages.zeros(count, np.float32)
    assert a.shape == (count,) and a.dtype == np.float32 and a.flags.c_contiguous
    assert a.flags.writeable and not a.any()
    if pages._ADVICE is not None:
        assert a.ctypes.data % pages.HUGE_PAGE == 0
    a[:] = 1.5
    assert a.sum() == 1.5 * count


def test_large_buffers_are_advised_for_huge_pages():
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
            setting = f.read()
    except OSError:
        pytest.skip("no transparent huge pages here (not Linux, or built without them)")
    if "[never]" in setting or pages._ADVICE is None:
        pytest.skip(f"transparent huge pages are off: {setting.strip()}")
    a = pages.zeros(pages.HUGE_PAGE // 2, np.float32)  # 4 MiB
    assert "hg" in _vm_flags(a.ctypes.data)  # hg: MADV_HUGEPAGE


def test_large_engine_memory_is_one():
    """A large memory object (a compiled model's arena is one). The kernels' scratch is
    another: test_winograd_is_asked_for_or_chosen runs res5's Winograd (16 MiB of
    transformed weights in it) against the reference."""
    eng = dnnl.engine(dnnl.engine.kind.cpu, 0)
    md = dnnl.memory.desc([1, 1 << 20], dnnl.memory.data_type.f32, dnnl.memory.format_tag.ab)
    mem = dnnl.memory(md, eng)
    buf = mem.get_data_handle()
    if pages._ADVICE is not None:
        assert buf.ctypes.data % pages.HUGE_PAGE == 0
    assert not buf.any()
