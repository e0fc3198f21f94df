"""numpy references for the driver: correctness in float64 and the performance baselines
in float32 (im2col convolution, numpy.matmul over OpenBLAS, and the memory-bound kinds:
pooling, binary, softmax, layer and batch normalization). No dnnl_py kernel is used."""
from __future__ import annotations

import numpy as np
from scipy.special import erf, expit

ELTWISE = {
    "eltwise_relu": lambda x, a, b: np.where(x > 0, x, a * x),
    "eltwise_gelu_tanh":
        lambda x, a, b: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3))),
    "eltwise_gelu_erf": lambda x, a, b: 0.5 * x * (1 + erf(x / np.sqrt(2))),
    "eltwise_tanh": lambda x, a, b: np.tanh(x),
    "eltwise_logistic": lambda x, a, b: expit(x),
    "eltwise_swish": lambda x, a, b: x * expit(a * x),
    "eltwise_linear": lambda x, a, b: a * x + b,
    "eltwise_clip": lambda x, a, b: np.clip(x, a, b),
    "eltwise_exp": lambda x, a, b: np.exp(x),
    "eltwise_log": lambda x, a, b: np.log(x),
    "eltwise_sqrt": lambda x, a, b: np.sqrt(x),
    "eltwise_square": lambda x, a, b: x * x,
    "eltwise_abs": lambda x, a, b: np.abs(x),
    "eltwise_pow": lambda x, a, b: a * np.power(x, b),
    "eltwise_soft_relu": lambda x, a, b: np.where(a * x < 88.72283172607421875,
                                                  np.log1p(np.exp(a * x)), a * x) / a,
    "eltwise_hardswish": lambda x, a, b: x * np.clip(a * x + b, 0, 1),
    "eltwise_hardsigmoid": lambda x, a, b: np.clip(a * x + b, 0, 1),
    "eltwise_elu": lambda x, a, b: np.where(x > 0, x, a * np.expm1(x)),
    "eltwise_round": lambda x, a, b: np.rint(x),
    "eltwise_clip_v2": lambda x, a, b: np.clip(x, a, b),
    "eltwise_mish": lambda x, a, b: x * np.tanh(np.logaddexp(0, x)),
}

# Columns of one im2col chunk, in elements: bounds the reference's memory (a 50-image
# ResNet-50 conv1 would need 0.7 GB of float64 columns at once).
_COLUMN_CHUNK = 1 << 23


def post_ops(x, dst_old, ops, src1: dict = None):
    """ops: [("eltwise", name, alpha, beta) | ("sum", scale) | ("binary", "add:f32:...")]
    applied in order; src1: {post-op index: binary post-op i's src1, broadcast to x}."""
    with np.errstate(all="ignore"):  # log(-1), x / 0: what the formulas give
        for i, op in enumerate(ops):
            if op[0] == "sum":
                x = x + op[1] * dst_old
            elif op[0] == "binary":
                x = BINARY[op[1].split(":")[0]](x, src1[i].astype(np.float64)).astype(
                    np.float64)
            else:
                x = ELTWISE[op[1]](x, op[2], op[3])
    return x


def conv_im2col(src, wei, bias, strides, dilates, pad_l, pad_r, dtype=np.float64):
    """Forward convolution as im2col + one GEMM per group, in `dtype`. src (N, C, *sp);
    wei (G, O/G, I/G, *k); dilates as oneDNN's (0 = dense); a negative pad_r crops."""
    n, sp = src.shape[0], src.ndim - 2
    g, ocg, icg, ks = wei.shape[0], wei.shape[1], wei.shape[2], wei.shape[3:]
    ext = [(k - 1) * (d + 1) + 1 for k, d in zip(ks, dilates)]
    outs = [(src.shape[2 + j] + pad_l[j] + pad_r[j] - ext[j]) // strides[j] + 1
            for j in range(sp)]
    x = np.pad(src.astype(dtype, copy=False),
               [(0, 0), (0, 0)] + [(pl, max(pr, 0)) for pl, pr in zip(pad_l, pad_r)])
    # windows: (N, C, *out, *k) strided views, no copy until reshape
    win = np.lib.stride_tricks.sliding_window_view(x, ext, axis=tuple(range(2, 2 + sp)))
    win = win[(slice(None), slice(None))
              + tuple(slice(0, s * (o - 1) + 1, s) for s, o in zip(strides, outs))
              + tuple(slice(None, None, d + 1) for d in dilates)]
    w = wei.astype(dtype, copy=False).reshape(g, ocg, -1)         # (G, O/G, I/G*K)
    out = np.empty((n, g, ocg, int(np.prod(outs))), dtype)
    pixels, taps = int(np.prod(outs)), int(np.prod(ks))
    step = max(1, _COLUMN_CHUNK // max(1, pixels * g * icg * taps))
    for b in range(0, n, step):
        chunk = win[b:b + step]
        chunk = chunk.reshape(chunk.shape[0], g, icg, *outs, *ks)
        # columns (n, G, pixels, I/G*K): input channel, then taps, as the weights
        cols = np.moveaxis(chunk, 2, 2 + sp).reshape(chunk.shape[0], g, pixels, icg * taps)
        out[b:b + step] = np.matmul(w[None], np.swapaxes(cols, 2, 3))
    out = out.reshape(n, g * ocg, *outs)
    if bias is not None:
        out += np.asarray(bias, dtype).reshape((1, -1) + (1,) * sp)
    return out


def matmul(src, wei, dtype=np.float64):
    return np.matmul(src.astype(dtype, copy=False), wei.astype(dtype, copy=False))


def tolerance(k: int) -> float:
    """fp32 relative tolerance for a sum of k products of O(1) values: the error of a
    float32 accumulation grows about as eps * sqrt(k) (random rounding) and BLAS's
    blocked sums keep it there; 8x margin."""
    return 8 * np.finfo(np.float32).eps * max(1.0, np.sqrt(k)) * 4


def relative_error(out, ref) -> tuple[float, tuple]:
    """The largest error measured against the reference's scale, as benchdnn does, and
    where it is. Where the reference is NaN or +-inf (log of a negative value, an
    overflow), the output must be the same (any NaN for a NaN); elsewhere a non-finite
    output is an infinite error."""
    out, ref = np.asarray(out), np.asarray(ref)
    finite = np.isfinite(ref)
    same = (out == ref) | (np.isnan(out) & np.isnan(ref))
    wrong = (~finite & ~same) | (finite & ~np.isfinite(out))
    if wrong.any():
        return float("inf"), np.unravel_index(int(np.argmax(wrong)), out.shape)
    scale = max(1.0, float(np.abs(ref[finite]).max(initial=0.0)))
    diff = np.where(finite, np.abs(out - np.where(finite, ref, 0)), 0.0)
    at = np.unravel_index(int(np.argmax(diff)), diff.shape) if diff.size else ()
    return float(diff.max(initial=0.0)) / scale, tuple(int(i) for i in at)


def pool(src, alg: str, kernel, strides, dilates, pad_l, pad_r):
    """Forward pooling in float64: `max`, `avg_p` (the padding counts) or `avg_np` (only
    the source elements count). src (N, C, *sp); dilates as oneDNN's (0 = dense); a
    negative pad_r crops."""
    sp = src.ndim - 2
    x = src.astype(np.float64)
    ext = [(k - 1) * (d + 1) + 1 for k, d in zip(kernel, dilates)]
    outs = [(src.shape[2 + j] + pad_l[j] + pad_r[j] - ext[j]) // strides[j] + 1
            for j in range(sp)]
    pads = [(0, 0), (0, 0)] + [(pl, max(pr, 0)) for pl, pr in zip(pad_l, pad_r)]
    fill = -np.inf if alg == "max" else 0.0
    xp = np.pad(x, pads, constant_values=fill)
    ones = np.pad(np.ones(src.shape[2:]), pads[2:])          # 1 where a source element is

    def windows(a, first):
        w = np.lib.stride_tricks.sliding_window_view(a, ext, axis=tuple(range(first,
                                                                             first + sp)))
        return w[(slice(None),) * first
                 + tuple(slice(0, s * (o - 1) + 1, s) for s, o in zip(strides, outs))
                 + tuple(slice(None, None, d + 1) for d in dilates)]
    win = windows(xp, 2)
    taps = tuple(range(2 + sp, 2 + 2 * sp))
    if alg == "max":
        return win.max(axis=taps)
    total = win.sum(axis=taps)
    if alg == "avg_p":
        return total / np.prod(kernel)
    count = windows(ones, 0).sum(axis=tuple(range(sp, 2 * sp)))
    return total / count.reshape((1, 1) + count.shape)


BINARY = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
    "max": np.maximum, "min": np.minimum, "ge": np.greater_equal, "gt": np.greater,
    "le": np.less_equal, "lt": np.less, "eq": np.equal, "ne": np.not_equal,
}


def binary(alg: str, src0, src1):
    """src0 (op) src1 in float64, src1 broadcast (numpy's rules); comparisons give 0 or 1."""
    with np.errstate(all="ignore"):
        return BINARY[alg](src0.astype(np.float64), src1.astype(np.float64)).astype(np.float64)


def softmax(src, axis: int, log: bool):
    """Softmax (or log-softmax) along `axis` in float64, the maximum subtracted first."""
    x = src.astype(np.float64)
    x = x - x.max(axis=axis, keepdims=True)
    lse = np.log(np.exp(x).sum(axis=axis, keepdims=True))
    return x - lse if log else np.exp(x - lse)


def normalize(src, mean, var, scale, shift, eps: float, axes: tuple, stat_shape: tuple,
              vec_shape: tuple):
    """(src - mean) / sqrt(var + eps) * scale + shift in float64, the statistics computed
    over `axes` when mean is None; mean and var broadcast as `stat_shape`, scale and
    shift as `vec_shape`. Returns (dst, mean, var)."""
    x = src.astype(np.float64)
    if mean is None:
        mean = x.mean(axis=axes)
        var = ((x - x.mean(axis=axes, keepdims=True)) ** 2).mean(axis=axes)
    mean, var = np.asarray(mean, np.float64), np.asarray(var, np.float64)
    dst = (x - mean.reshape(stat_shape)) / np.sqrt(var.reshape(stat_shape) + eps)
    if scale is not None:
        dst = dst * scale.astype(np.float64).reshape(vec_shape)
    if shift is not None:
        dst = dst + shift.astype(np.float64).reshape(vec_shape)
    return dst, mean, var
