"""CPU batch normalization (inference): one OpenMP loop over channels
(csrc/normalization.c)."""
from __future__ import annotations

from .layer_normalization import _NormImpl


class BatchNormPlain(_NormImpl):
    name = "cpu:bnorm:plain"
    reference = True
