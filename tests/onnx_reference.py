"""A float64 numpy evaluation of an onnx.ModelProto, op by op from the ONNX spec: the
model layer's independent reference where onnxruntime is not installed. Plain loops
over windows, no code shared with dnnl_py."""
import math

import numpy as np
from onnx import numpy_helper


def _attrs(node) -> dict:
    from onnx import helper
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _windows(x, kernel, strides, pads, dil, fill):
    """(N, C, *out, *kernel) view of x padded with `fill`, for conv and pooling."""
    nsp = len(kernel)
    pad = [(0, 0), (0, 0)] + [(pads[i], pads[nsp + i]) for i in range(nsp)]
    xp = np.pad(x, pad, constant_values=fill)
    out = [(xp.shape[2 + i] - dil[i] * (kernel[i] - 1) - 1) // strides[i] + 1
           for i in range(nsp)]
    idx = np.indices(out + list(kernel))
    pos = [idx[i] * strides[i] + idx[nsp + i] * dil[i] for i in range(nsp)]
    return xp[(slice(None), slice(None)) + tuple(pos)], out


def _conv(x, w, b, a):
    nsp = w.ndim - 2
    g = a.get("group", 1)
    pads = a.get("pads", [0] * 2 * nsp)
    win, out = _windows(x, w.shape[2:], a.get("strides", [1] * nsp), pads,
                        a.get("dilations", [1] * nsp), 0.0)
    n, cin = x.shape[:2]
    oc = w.shape[0]
    y = np.zeros((n, oc, *out))
    for gi in range(g):
        xs = win[:, gi * cin // g:(gi + 1) * cin // g]
        ws = w[gi * oc // g:(gi + 1) * oc // g]
        y[:, gi * oc // g:(gi + 1) * oc // g] = np.einsum("nchwkl,ockl->nohw", xs, ws)
    return y + (0 if b is None else b.reshape(1, -1, 1, 1))


def _pool(x, a, kind):
    k = a["kernel_shape"]
    nsp = len(k)
    pads = list(a.get("pads", [0] * 2 * nsp))
    strides = a.get("strides", [1] * nsp)
    dil = a.get("dilations", [1] * nsp)
    if a.get("auto_pad", "NOTSET") != "NOTSET":
        raise NotImplementedError("auto_pad in the reference")
    include = kind == "avg" and a.get("count_include_pad", 0)
    # explicit pads: counted by an average with count_include_pad (zeros), else not (nan)
    x = np.pad(x, [(0, 0), (0, 0)] + [(pads[i], pads[nsp + i]) for i in range(nsp)],
               constant_values=-np.inf if kind == "max" else 0.0 if include else np.nan)
    if a.get("ceil_mode", 0):  # the windows ceil_mode adds are never counted
        extra = []
        for i in range(nsp):
            span = x.shape[2 + i] - dil[i] * (k[i] - 1) - 1
            out = -(-span // strides[i]) + 1
            if (out - 1) * strides[i] >= x.shape[2 + i] - pads[nsp + i]:
                out -= 1
            extra.append(max(0, (out - 1) * strides[i] + dil[i] * (k[i] - 1) + 1
                             - x.shape[2 + i]))
        x = np.pad(x, [(0, 0), (0, 0)] + [(0, e) for e in extra],
                   constant_values=-np.inf if kind == "max" else np.nan)
    win, _ = _windows(x, k, strides, [0] * 2 * nsp, dil, 0.0)
    axes = tuple(range(-nsp, 0))
    return win.max(axis=axes) if kind == "max" else np.nanmean(win, axis=axes)


def _bcast(x, y):
    return np.broadcast_arrays(x, y)


OPS = {
    "Conv": lambda i, a: [_conv(i[0], i[1], i[2] if len(i) > 2 else None, a)],
    "BatchNormalization": lambda i, a: [
        (i[0] - i[3].reshape(1, -1, 1, 1)) / np.sqrt(i[4].reshape(1, -1, 1, 1)
                                                     + a.get("epsilon", 1e-5))
        * i[1].reshape(1, -1, 1, 1) + i[2].reshape(1, -1, 1, 1)],
    "Relu": lambda i, a: [np.maximum(i[0], 0)],
    "Clip": lambda i, a: [np.clip(i[0], i[1] if len(i) > 1 else -np.inf,
                                  i[2] if len(i) > 2 else np.inf)],
    "Sigmoid": lambda i, a: [1 / (1 + np.exp(-i[0]))],
    "Tanh": lambda i, a: [np.tanh(i[0])],
    "Erf": lambda i, a: [np.vectorize(math.erf)(i[0])],
    "Add": lambda i, a: [i[0] + i[1]], "Sub": lambda i, a: [i[0] - i[1]],
    "Mul": lambda i, a: [i[0] * i[1]], "Div": lambda i, a: [i[0] / i[1]],
    "MaxPool": lambda i, a: [_pool(i[0], a, "max")],
    "AveragePool": lambda i, a: [_pool(i[0], a, "avg")],
    "GlobalAveragePool": lambda i, a: [i[0].mean(axis=(2, 3), keepdims=True)],
    "Flatten": lambda i, a: [i[0].reshape(math.prod(i[0].shape[:a.get("axis", 1)]), -1)],
    "Reshape": lambda i, a: [i[0].reshape([d if d else i[0].shape[k]
                                           for k, d in enumerate(i[1].astype(int))])],
    "Transpose": lambda i, a: [np.transpose(i[0], a.get("perm"))],
    "Unsqueeze": lambda i, a: [np.expand_dims(i[0], tuple(int(v) for v in i[1]))],
    "Squeeze": lambda i, a: [np.squeeze(i[0], tuple(int(v) for v in i[1]))],
    "Gemm": lambda i, a: [a.get("alpha", 1.0) * (i[0].T if a.get("transA") else i[0])
                          @ (i[1].T if a.get("transB") else i[1])
                          + (a.get("beta", 1.0) * i[2] if len(i) > 2 else 0)],
    "MatMul": lambda i, a: [np.matmul(i[0], i[1])],
    "Softmax": lambda i, a: [np.exp(i[0] - i[0].max(axis=a.get("axis", -1), keepdims=True))
                             / np.exp(i[0] - i[0].max(axis=a.get("axis", -1), keepdims=True))
                             .sum(axis=a.get("axis", -1), keepdims=True)],
    "LayerNormalization": lambda i, a: [
        (i[0] - i[0].mean(-1, keepdims=True)) / np.sqrt(i[0].var(-1, keepdims=True)
                                                        + a.get("epsilon", 1e-5))
        * i[1] + (i[2] if len(i) > 2 else 0)],
    "Concat": lambda i, a: [np.concatenate(i, axis=a["axis"])],
    "Shape": lambda i, a: [np.array(i[0].shape, np.int64)],
    "Gather": lambda i, a: [np.take(i[0], i[1], axis=a.get("axis", 0))],
    "Cast": lambda i, a: [i[0]],
    "Identity": lambda i, a: [i[0]], "Dropout": lambda i, a: [i[0]],
    "Constant": lambda i, a: [numpy_helper.to_array(a["value"])],
}


def run(model, feeds: dict) -> list:
    """The graph's outputs for `feeds`, computed in float64 (integers stay integers)."""
    vals = {t.name: _f64(numpy_helper.to_array(t)) for t in model.graph.initializer}
    vals.update({k: np.asarray(v, np.float64) for k, v in feeds.items()})
    for node in model.graph.node:
        ins = [vals[n] if n else None for n in node.input]
        while ins and ins[-1] is None:
            ins.pop()
        outs = OPS[node.op_type](ins, _attrs(node))
        vals.update(zip(node.output, outs))
    return [vals[o.name] for o in model.graph.output]


def _f64(a):
    return a.astype(np.float64) if a.dtype.kind == "f" else a
