import pathlib

import numpy as np
import pytest

import dnnl_py as dnnl

SHARED = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "benchdnn"


@pytest.fixture(scope="session")
def eng():
    return dnnl.engine(dnnl.engine.kind.cpu, 0)


@pytest.fixture(scope="session")
def strm(eng):
    return dnnl.stream(eng)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def only_impl(monkeypatch):
    """only_impl(module, cls): restrict the CPU implementation list of a kind to one."""
    def restrict(module, cls):
        monkeypatch.setattr(module, "IMPLS", [cls])
    return restrict
