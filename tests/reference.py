"""Independent references: numpy only, no code shared with dnnl_py's kernels. The
post-ops, the tolerance and the error measure are the benchdnn driver's (its numpy
references use no dnnl_py kernel either); conv_fwd, a per-tap einsum, also checks the
driver's im2col reference."""
import numpy as np

from dnnl_py.benchdnn.reference import post_ops, relative_error, tolerance  # noqa: F401


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


def assert_close(out, ref, k):
    """Errors measured against the reference's scale, as benchdnn does."""
    err, at = relative_error(out, ref)
    assert err <= tolerance(k), f"max rel error {err:.3g} > {tolerance(k):.3g} at {at}"
