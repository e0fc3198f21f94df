"""numpy references for the driver: correctness in float64 and the performance baselines
in float32 (im2col convolution, numpy.matmul over OpenBLAS). No dnnl_py kernel is used."""
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
}

# Columns of one im2col chunk, in elements: bounds the reference's memory (a 50-image
# ResNet-50 conv1 would need 0.7 GB of float64 columns at once).
_COLUMN_CHUNK = 1 << 23


def post_ops(x, dst_old, ops):
    """ops: [("eltwise", name, alpha, beta) | ("sum", scale)] applied in order."""
    with np.errstate(all="ignore"):  # log(-1), x / 0: what the formulas give
        for op in ops:
            if op[0] == "sum":
                x = x + op[1] * dst_old
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
