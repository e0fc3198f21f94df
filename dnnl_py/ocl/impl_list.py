"""The OpenCL engine's implementations of each primitive kind, fastest first, the
reference last: a fast kernel that cannot be built on a device dispatches to it."""
from ..kinds import primitive_kind
from . import binary, eltwise, gemm, reorder

IMPLS = {
    primitive_kind.convolution: [gemm.ConvIgemm, gemm.ConvRef],
    primitive_kind.matmul: [gemm.MatmulTiled, gemm.MatmulRef],
    primitive_kind.reorder: [reorder.ReorderStrided],
    primitive_kind.eltwise: [eltwise.EltwiseRef],
    primitive_kind.binary: [binary.BinaryRef],
}
