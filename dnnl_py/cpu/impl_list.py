"""The CPU engine's implementations of each primitive kind, fastest first, a reference
last (oneDNN's cpu_convolution_list.cpp). The first that accepts a problem wins, unless
it defers to a later one (Impl.defers)."""
from ..kinds import primitive_kind
from . import binary, convolution, eltwise, matmul, reorder

IMPLS = {
    primitive_kind.convolution: [convolution.ConvDepthwise, convolution.ConvDirect,
                                 convolution.ConvGemm, convolution.ConvRef],
    primitive_kind.matmul: [matmul.MatmulGemm, matmul.MatmulRef],
    primitive_kind.reorder: [reorder.ReorderStrided],
    primitive_kind.eltwise: [eltwise.EltwiseSimple],
    primitive_kind.binary: [binary.BinarySimple],
}
