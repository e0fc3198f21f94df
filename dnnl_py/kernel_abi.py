"""The numbers every kernel and the Python that fills its post-op table agree on: post-op
kinds, eltwise algorithm ids, the table's size. Declared here once; the C kernels'
header (csrc/dnnl_kernels.h) is checked against it when the CPU extension is imported,
and the OpenCL kernels get these values as -D macros (ocl/gemm.py)."""
from .kinds import algorithm

POST_OP_ELTWISE, POST_OP_SUM, POST_OP_BINARY = 0, 1, 2
MAX_POST_OPS = 8  # the size of the C kernels' post-op table (DNNL_MAX_POST_OPS)

# algorithm -> the kernels' eltwise id (DNNL_ELT_* in C, ELT_* in OpenCL)
ELTWISE_ID = {
    algorithm.eltwise_relu: 0, algorithm.eltwise_gelu_tanh: 1, algorithm.eltwise_gelu_erf: 2,
    algorithm.eltwise_tanh: 3, algorithm.eltwise_logistic: 4, algorithm.eltwise_swish: 5,
    algorithm.eltwise_linear: 6, algorithm.eltwise_clip: 7,
    algorithm.eltwise_exp: 8, algorithm.eltwise_log: 9, algorithm.eltwise_sqrt: 10,
    algorithm.eltwise_square: 11, algorithm.eltwise_abs: 12, algorithm.eltwise_pow: 13,
    algorithm.eltwise_soft_relu: 14, algorithm.eltwise_hardswish: 15,
    algorithm.eltwise_hardsigmoid: 16, algorithm.eltwise_elu: 17, algorithm.eltwise_round: 18,
}

# algorithm -> the binary kernels' op id (DNNL_BIN_* in C, BIN_* in OpenCL)
BINARY_ID = {
    algorithm.binary_add: 0, algorithm.binary_sub: 1, algorithm.binary_mul: 2,
    algorithm.binary_div: 3, algorithm.binary_max: 4, algorithm.binary_min: 5,
    algorithm.binary_ge: 6, algorithm.binary_gt: 7, algorithm.binary_le: 8,
    algorithm.binary_lt: 9, algorithm.binary_eq: 10, algorithm.binary_ne: 11,
}


def c_name(alg: algorithm) -> str:
    """ELT_RELU for eltwise_relu, BIN_ADD for binary_add: the id's name in the kernels
    (DNNL_ prefixed in C)."""
    return alg.name.upper().replace("ELTWISE_", "ELT_").replace("BINARY_", "BIN_")
