"""OpenCL batch normalization (inference): kernels/norm.cl's norm_fwd, one work-item per
channel."""
from __future__ import annotations

from .layer_normalization import _NormRef


class BatchNormRef(_NormRef):
    name = "ocl:bnorm:ref"
