"""The enumerations every primitive shares: dnnl::prop_kind, dnnl::algorithm,
dnnl::primitive::kind and the execute argument indices (DNNL_ARG_*)."""
import enum


class prop_kind(enum.Enum):
    undef = "undef"
    forward_training = "forward_training"
    forward_inference = "forward_inference"
    forward = "forward_training"
    backward = "backward"
    backward_data = "backward_data"
    backward_weights = "backward_weights"
    backward_bias = "backward_bias"


class algorithm(enum.Enum):
    undef = "undef"
    convolution_direct = "convolution_direct"
    convolution_winograd = "convolution_winograd"
    convolution_auto = "convolution_auto"
    eltwise_relu = "eltwise_relu"
    eltwise_tanh = "eltwise_tanh"
    eltwise_elu = "eltwise_elu"
    eltwise_square = "eltwise_square"
    eltwise_abs = "eltwise_abs"
    eltwise_sqrt = "eltwise_sqrt"
    eltwise_linear = "eltwise_linear"
    eltwise_soft_relu = "eltwise_soft_relu"
    eltwise_logistic = "eltwise_logistic"
    eltwise_exp = "eltwise_exp"
    eltwise_gelu_tanh = "eltwise_gelu_tanh"
    eltwise_gelu_erf = "eltwise_gelu_erf"
    eltwise_swish = "eltwise_swish"
    eltwise_log = "eltwise_log"
    eltwise_clip = "eltwise_clip"
    eltwise_clip_v2 = "eltwise_clip_v2"
    eltwise_pow = "eltwise_pow"
    eltwise_round = "eltwise_round"
    eltwise_mish = "eltwise_mish"
    eltwise_hardswish = "eltwise_hardswish"
    eltwise_hardsigmoid = "eltwise_hardsigmoid"


class primitive_kind(enum.Enum):
    """dnnl::primitive::kind."""
    undef = "undef"
    reorder = "reorder"
    sum = "sum"
    convolution = "convolution"
    eltwise = "eltwise"
    matmul = "matmul"


# dnnl_types.h values, so that argument maps read the same as in C++.
ARG_SRC = ARG_SRC_0 = ARG_FROM = 1
ARG_SRC_1 = 2
ARG_DST = ARG_DST_0 = ARG_TO = 17
ARG_WEIGHTS = ARG_WEIGHTS_0 = 33
ARG_BIAS = ARG_WEIGHTS_1 = 41
ARG_SCRATCHPAD = 80

ARG_NAMES = {ARG_SRC: "src", ARG_DST: "dst", ARG_WEIGHTS: "weights", ARG_BIAS: "bias",
             ARG_SRC_1: "src_1", ARG_SCRATCHPAD: "scratchpad"}
