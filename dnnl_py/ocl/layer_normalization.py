"""OpenCL layer normalization: kernels/norm.cl's norm_fwd, one work-item per row."""
from __future__ import annotations

from ..kinds import ARG_DST, ARG_MEAN, ARG_SCALE, ARG_SHIFT, ARG_SRC, ARG_VARIANCE
from .gemm import _float
from .softmax import _OclReduce


class _NormRef(_OclReduce):
    kernel_name = "norm_fwd"
    kernel_args = (ARG_SRC, ARG_MEAN, ARG_VARIANCE, ARG_SCALE, ARG_SHIFT, ARG_DST)

    def _kind_macros(self) -> dict:
        p = self.problem
        return {"EPS": _float(p.epsilon), "GLOBAL_STATS": int(p.global_stats),
                "SAVE_STATS": int(p.save_stats), "USE_SCALE": int(p.use_scale),
                "USE_SHIFT": int(p.use_shift), "RELU": int(p.relu)}


class LayerNormRef(_NormRef):
    name = "ocl:lnorm:ref"
