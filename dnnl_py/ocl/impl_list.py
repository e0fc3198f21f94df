"""The OpenCL engine's implementations of each primitive kind, fastest first, the
reference last: a fast kernel that cannot be built on a device dispatches to it."""
from ..kinds import primitive_kind
from . import (
    batch_normalization,
    binary,
    concat,
    eltwise,
    gemm,
    layer_normalization,
    pooling,
    reorder,
    softmax,
)

IMPLS = {
    primitive_kind.convolution: [gemm.ConvIgemm, gemm.ConvRef],
    primitive_kind.matmul: [gemm.MatmulTiled, gemm.MatmulRef],
    primitive_kind.reorder: [reorder.ReorderStrided],
    primitive_kind.pooling: [pooling.PoolRef],
    primitive_kind.concat: [concat.ConcatStrided],
    primitive_kind.softmax: [softmax.SoftmaxRef],
    primitive_kind.layer_normalization: [layer_normalization.LayerNormRef],
    primitive_kind.batch_normalization: [batch_normalization.BatchNormRef],
    primitive_kind.eltwise: [eltwise.EltwiseRef],
    primitive_kind.binary: [binary.BinaryRef],
}
