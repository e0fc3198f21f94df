"""The CPU engine's implementations of each primitive kind, fastest first, a reference
last (oneDNN's cpu_convolution_list.cpp). The first that accepts a problem wins, unless
it defers to a later one (Impl.defers)."""
from ..kinds import primitive_kind
from . import (
    batch_normalization,
    binary,
    concat,
    convolution,
    eltwise,
    layer_normalization,
    matmul,
    pooling,
    reorder,
    softmax,
)

IMPLS = {
    primitive_kind.convolution: [convolution.ConvDepthwise, convolution.ConvPacked1x1,
                                 convolution.ConvWinograd, convolution.ConvDirect,
                                 convolution.ConvGemm, convolution.ConvRef],
    primitive_kind.matmul: [matmul.MatmulBatchedAvx512, matmul.MatmulBatched,
                            matmul.MatmulPacked, matmul.MatmulGemm, matmul.MatmulRef],
    primitive_kind.reorder: [reorder.ReorderWinoWeights, reorder.ReorderStrided],
    primitive_kind.pooling: [pooling.PoolDirect],
    primitive_kind.concat: [concat.ConcatStrided],
    primitive_kind.softmax: [softmax.SoftmaxPlain],
    primitive_kind.layer_normalization: [layer_normalization.LayerNormPlain],
    primitive_kind.batch_normalization: [batch_normalization.BatchNormPlain],
    primitive_kind.eltwise: [eltwise.EltwiseSimple],
    primitive_kind.binary: [binary.BinarySimple],
}
