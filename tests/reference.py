"""Independent references: numpy only, no code shared with dnnl_py's kernels."""
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
}


def post_ops(x, dst_old, ops):
    """ops: [("eltwise", name, alpha, beta) | ("sum", scale)] applied in order."""
    for op in ops:
        if op[0] == "sum":
            x = x + op[1] * dst_old
        else:
            x = ELTWISE[op[1]](x, op[2], op[3])
    return x


def conv_fwd(src, wei, bias, strides, dilates, pad_l, pad_r, groups):
    """float64 forward convolution. src (N, C, *sp); wei (G, O/G, I/G, *k); dilates as
    oneDNN (0 = dense); negative pad_r crops."""
    sp = src.ndim - 2
    g, ocg, icg = wei.shape[:3]
    ks = wei.shape[3:]
    pad = [(0, 0), (0, 0)] + [(pl, max(pr, 0)) for pl, pr in zip(pad_l, pad_r)]
    x = np.pad(src.astype(np.float64), pad)
    outs = [(src.shape[2 + j] + pad_l[j] + pad_r[j] - (ks[j] - 1) * (dilates[j] + 1) - 1)
            // strides[j] + 1 for j in range(sp)]
    out = np.zeros((src.shape[0], g, ocg) + tuple(outs))
    xg = x.reshape((x.shape[0], g, icg) + x.shape[2:])
    for tap in np.ndindex(*ks):
        sl = tuple(slice(t * (d + 1), t * (d + 1) + s * (o - 1) + 1, s)
                   for t, d, s, o in zip(tap, dilates, strides, outs))
        patch = xg[(slice(None),) * 3 + sl]
        w = wei[(slice(None),) * 3 + tap].astype(np.float64)
        out += np.einsum("ngi...,goi->ngo...", patch, w)
    out = out.reshape((src.shape[0], g * ocg) + tuple(outs))
    if bias is not None:
        out += bias.reshape((1, -1) + (1,) * sp)
    return out


def tolerance(k: int) -> float:
    """fp32 relative tolerance for a sum of k products of O(1) values: the error of a
    float32 accumulation grows about as eps * sqrt(k) (random rounding) and BLAS's
    blocked sums keep it there; 8x margin."""
    return 8 * np.finfo(np.float32).eps * max(1.0, np.sqrt(k)) * 4


def assert_close(out, ref, k):
    """Errors measured against the reference's scale, as benchdnn does."""
    scale = max(1.0, float(np.abs(ref).max()))
    err = float(np.abs(out - ref).max()) / scale
    assert err <= tolerance(k), f"max rel error {err:.3g} > {tolerance(k):.3g}"
