"""The numbers every kernel and the Python that fills its post-op table agree on: post-op
kinds, eltwise algorithm ids, the table's size. Declared here once; the C kernels'
header (csrc/dnnl_kernels.h) is checked against it when the CPU extension is imported,
and the OpenCL kernels get these values as -D macros (ocl/gemm.py)."""
from .kinds import algorithm

POST_OP_ELTWISE, POST_OP_SUM = 0, 1
MAX_POST_OPS = 8  # the size of the C kernels' post-op table (DNNL_MAX_POST_OPS)

# algorithm -> the kernels' eltwise id (DNNL_ELT_* in C, ELT_* in OpenCL)
ELTWISE_ID = {
    algorithm.eltwise_relu: 0, algorithm.eltwise_gelu_tanh: 1, algorithm.eltwise_gelu_erf: 2,
    algorithm.eltwise_tanh: 3, algorithm.eltwise_logistic: 4, algorithm.eltwise_swish: 5,
    algorithm.eltwise_linear: 6, algorithm.eltwise_clip: 7,
}


def c_name(alg: algorithm) -> str:
    """ELT_RELU for eltwise_relu: the id's name in the kernels (DNNL_ prefixed in C)."""
    return alg.name.upper().replace("ELTWISE_", "ELT_")
