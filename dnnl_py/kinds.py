"""The enumerations every primitive shares: dnnl::prop_kind, dnnl::algorithm,
dnnl::primitive::kind and the execute argument indices (DNNL_ARG_*)."""
import enum


class IdHashEnum(enum.Enum):
    """An enum.Enum hashed by identity, as it compares (members are singletons):
    enum.Enum's __hash__ is Python code (the name's hash), and primitive creation hashes
    these in every memo lookup (~30 times on a miss); object's is C, ~10x cheaper."""
    __hash__ = object.__hash__


class prop_kind(IdHashEnum):
    undef = "undef"
    forward_training = "forward_training"
    forward_inference = "forward_inference"
    forward = "forward_training"
    backward = "backward"
    backward_data = "backward_data"
    backward_weights = "backward_weights"
    backward_bias = "backward_bias"


class algorithm(IdHashEnum):
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
    pooling_max = "pooling_max"
    pooling_avg_include_padding = "pooling_avg_include_padding"
    pooling_avg_exclude_padding = "pooling_avg_exclude_padding"
    binary_add = "binary_add"
    binary_mul = "binary_mul"
    binary_max = "binary_max"
    binary_min = "binary_min"
    binary_div = "binary_div"
    binary_sub = "binary_sub"
    binary_ge = "binary_ge"
    binary_gt = "binary_gt"
    binary_le = "binary_le"
    binary_lt = "binary_lt"
    binary_eq = "binary_eq"
    binary_ne = "binary_ne"
    softmax_accurate = "softmax_accurate"
    softmax_log = "softmax_log"


class normalization_flags(enum.IntFlag):
    """dnnl::normalization_flags (dnnl_types.h values)."""
    none = 0x0
    use_global_stats = 0x1
    use_scale = 0x2
    use_shift = 0x4
    fuse_norm_relu = 0x8
    fuse_norm_add_relu = 0x10


class primitive_kind(IdHashEnum):
    """dnnl::primitive::kind."""
    undef = "undef"
    reorder = "reorder"
    sum = "sum"
    concat = "concat"
    convolution = "convolution"
    eltwise = "eltwise"
    pooling = "pooling"
    batch_normalization = "batch_normalization"
    layer_normalization = "layer_normalization"
    softmax = "softmax"
    binary = "binary"
    matmul = "matmul"


# dnnl_types.h values, so that argument maps read the same as in C++.
ARG_SRC = ARG_SRC_0 = ARG_FROM = 1
ARG_SRC_1 = 2
ARG_SRC_2 = 3
ARG_DST = ARG_DST_0 = ARG_TO = 17
ARG_DST_1 = 18
ARG_WEIGHTS = ARG_WEIGHTS_0 = 33
ARG_WEIGHTS_1 = 34
ARG_BIAS = 41
ARG_MEAN = 49
ARG_VARIANCE = 50
ARG_SCALE = 51
ARG_SHIFT = 52
ARG_WORKSPACE = 64
ARG_SCRATCHPAD = 80
ARG_MULTIPLE_SRC = 1024   # + i: concat's i-th source
ARG_MULTIPLE_DST = 2048
ARG_ATTR_MULTIPLE_POST_OP_BASE = 16384


def ARG_ATTR_MULTIPLE_POST_OP(index: int) -> int:  # noqa: N802 (oneDNN's macro name)
    """The argument of post-op `index` (a binary post-op's src1: | ARG_SRC_1)."""
    return ARG_ATTR_MULTIPLE_POST_OP_BASE * (index + 1)


ARG_NAMES = {ARG_SRC: "src", ARG_SRC_1: "src_1", ARG_SRC_2: "src_2", ARG_DST: "dst",
             ARG_DST_1: "dst_1", ARG_WEIGHTS: "weights", ARG_WEIGHTS_1: "weights_1",
             ARG_BIAS: "bias", ARG_MEAN: "mean", ARG_VARIANCE: "variance", ARG_SCALE: "scale",
             ARG_SHIFT: "shift", ARG_WORKSPACE: "workspace", ARG_SCRATCHPAD: "scratchpad"}


def arg_name(arg: int) -> str:
    """How messages name an execute argument: `src`, `ARG_ATTR_MULTIPLE_POST_OP(0) |
    ARG_SRC_1`, or its number."""
    index, rest = divmod(arg, ARG_ATTR_MULTIPLE_POST_OP_BASE)
    if index and rest in ARG_NAMES:
        return f"ARG_ATTR_MULTIPLE_POST_OP({index - 1}) | ARG_{ARG_NAMES[rest].upper()}"
    return ARG_NAMES.get(arg, f"arg {arg}")
