"""Each supported ONNX op's output shapes (SHAPE) and, for the ops that shape
sub-graphs are made of, its evaluation on constants at read time (FOLD). Shapes are
static: an output whose shape depends on a value known only at run time is refused,
naming the node."""
from __future__ import annotations

import numpy as np

from .._errors import invalid, unimplemented

# ONNX TensorProto.DataType -> numpy
DTYPES = {1: np.float32, 2: np.uint8, 3: np.int8, 4: np.uint16, 5: np.int16, 6: np.int32,
          7: np.int64, 9: np.bool_, 10: np.float16, 11: np.float64, 12: np.uint32,
          13: np.uint64}


def _need_const(node, known, i: int, what: str):
    if i >= len(node.inputs) or not node.inputs[i]:
        return None
    if known[i] is None:
        raise unimplemented(f"node {node.name!r} (op {node.op}): its {what} is computed at "
                            "run time; the model layer compiles static shapes only")
    return known[i]


def _axis(node, axis: int, ndim: int) -> int:
    if not -ndim <= axis < ndim:
        raise invalid(f"node {node.name!r} ({node.op}): axis {axis} out of range for "
                      f"{ndim} dims")
    return axis % ndim


def _same(node, ins, known):
    return [ins[0]]


def _broadcast(node, ins, known):
    try:
        shape = np.broadcast_shapes(*(s for s, _ in ins))
    except ValueError:
        raise invalid(f"node {node.name!r} ({node.op}): shapes {[s for s, _ in ins]} do "
                      "not broadcast") from None
    return [(shape, ins[0][1])]


def _window(node, shape, kernel):
    """Output spatial sizes of a Conv or pool, with ONNX's pads / auto_pad / ceil_mode;
    stores the explicit pads back into the node's attrs for the compiler."""
    nsp = len(shape) - 2
    if nsp < 1 or len(kernel) != nsp:
        raise invalid(f"node {node.name!r} ({node.op}): kernel {kernel} does not fit input "
                      f"{list(shape)}")
    strides = node.attrs.get("strides") or [1] * nsp
    dil = node.attrs.get("dilations") or [1] * nsp
    pads = list(node.attrs.get("pads") or [0] * (2 * nsp))
    auto = node.attrs.get("auto_pad", "NOTSET")
    ceil = node.attrs.get("ceil_mode", 0)
    out = []
    for i in range(nsp):
        ext = dil[i] * (kernel[i] - 1) + 1
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            o = -(-shape[2 + i] // strides[i])
            total = max((o - 1) * strides[i] + ext - shape[2 + i], 0)
            lo = total // 2 if auto == "SAME_UPPER" else total - total // 2
            pads[i], pads[nsp + i] = lo, total - lo
        elif auto == "VALID":
            pads[i] = pads[nsp + i] = 0
        span = shape[2 + i] + pads[i] + pads[nsp + i] - ext
        o = (-(-span // strides[i]) if ceil else span // strides[i]) + 1
        if ceil and (o - 1) * strides[i] >= shape[2 + i] + pads[i]:
            o -= 1  # the last window must start inside the input or its left padding
        if o < 1:
            raise invalid(f"node {node.name!r} ({node.op}): empty output for input "
                          f"{list(shape)} and kernel {kernel}")
        out.append(o)
    node.attrs.update(strides=list(strides), dilations=list(dil), pads=pads,
                      auto_pad="NOTSET")
    return out


def _conv(node, ins, known):
    (shape, dt), (wshape, _) = ins[0], ins[1]
    if len(wshape) != len(shape):
        raise invalid(f"node {node.name!r} (Conv): weights {list(wshape)} do not fit input "
                      f"{list(shape)}")
    group = node.attrs.get("group", 1)
    if shape[1] != wshape[1] * group:
        raise invalid(f"node {node.name!r} (Conv): input has {shape[1]} channels, weights "
                      f"{list(wshape)} with group {group} take {wshape[1] * group}")
    out = _window(node, shape, list(node.attrs.get("kernel_shape") or wshape[2:]))
    return [((shape[0], wshape[0], *out), dt)]


def _pool(node, ins, known):
    shape, dt = ins[0]
    kernel = node.attrs.get("kernel_shape")
    if not kernel:
        raise invalid(f"node {node.name!r} ({node.op}): kernel_shape is required")
    return [((shape[0], shape[1], *_window(node, shape, list(kernel))), dt)]


def _global_pool(node, ins, known):
    shape, dt = ins[0]
    return [((shape[0], shape[1]) + (1,) * (len(shape) - 2), dt)]


def _gemm(node, ins, known):
    (a, dt), (b, _) = ins[0], ins[1]
    if len(a) != 2 or len(b) != 2:
        raise invalid(f"node {node.name!r} (Gemm): operands must be 2-D, got {list(a)}, "
                      f"{list(b)}")
    m, k = a[::-1] if node.attrs.get("transA", 0) else a
    k2, n = b[::-1] if node.attrs.get("transB", 0) else b
    if k != k2:
        raise invalid(f"node {node.name!r} (Gemm): K differs: {list(a)} x {list(b)}")
    return [((m, n), dt)]


def _matmul(node, ins, known):
    (a, dt), (b, _) = ins[0], ins[1]
    if len(a) < 2 or len(b) < 2:
        raise unimplemented(f"node {node.name!r} (MatMul): 1-D operands")
    if a[-1] != b[-2]:
        raise invalid(f"node {node.name!r} (MatMul): K differs: {list(a)} x {list(b)}")
    try:
        batch = np.broadcast_shapes(a[:-2], b[:-2])
    except ValueError:
        raise invalid(f"node {node.name!r} (MatMul): batch dims of {list(a)} and {list(b)}"
                      " do not broadcast") from None
    return [((*batch, a[-2], b[-1]), dt)]


def _flatten(node, ins, known):
    shape, dt = ins[0]
    axis = node.attrs.get("axis", 1)
    axis = axis % len(shape) if axis != len(shape) else axis
    return [((int(np.prod(shape[:axis])), int(np.prod(shape[axis:]))), dt)]


def reshape_target(node, shape, target) -> tuple:
    target = [int(t) for t in target]
    if not node.attrs.get("allowzero", 0):
        target = [shape[i] if t == 0 else t for i, t in enumerate(target)]
    if target.count(-1) > 1:
        raise invalid(f"node {node.name!r} (Reshape): more than one -1 in {target}")
    total = int(np.prod(shape))
    if -1 in target:
        rest = int(np.prod([t for t in target if t != -1]))
        if rest == 0 or total % rest:
            raise invalid(f"node {node.name!r} (Reshape): {list(shape)} cannot become {target}")
        target[target.index(-1)] = total // rest
    if int(np.prod(target)) != total:
        raise invalid(f"node {node.name!r} (Reshape): {list(shape)} cannot become {target}")
    return tuple(target)


def _reshape(node, ins, known):
    shape, dt = ins[0]
    return [(reshape_target(node, shape, _need_const(node, known, 1, "target shape")), dt)]


def perm_of(node, ndim: int) -> list:
    perm = node.attrs.get("perm") or list(range(ndim))[::-1]
    if sorted(perm) != list(range(ndim)):
        raise invalid(f"node {node.name!r} (Transpose): perm {perm} for {ndim} dims")
    return list(perm)


def _transpose(node, ins, known):
    shape, dt = ins[0]
    return [(tuple(shape[p] for p in perm_of(node, len(shape))), dt)]


def axes_of(node, known, ndim: int) -> list:
    axes = node.attrs.get("axes")
    if axes is None:
        axes = _need_const(node, known, 1, "axes")
    return None if axes is None else sorted(_axis(node, int(a), ndim) for a in axes)


def _unsqueeze(node, ins, known):
    shape, dt = ins[0]
    axes = node.attrs.get("axes")
    if axes is None:
        axes = _need_const(node, known, 1, "axes")
    ndim = len(shape) + len(axes)
    out = list(shape)
    for a in sorted(_axis(node, int(a), ndim) for a in axes):
        out.insert(a, 1)
    return [(tuple(out), dt)]


def _squeeze(node, ins, known):
    shape, dt = ins[0]
    axes = axes_of(node, known, len(shape))
    if axes is None:
        axes = [i for i, d in enumerate(shape) if d == 1]
    if any(shape[a] != 1 for a in axes):
        raise invalid(f"node {node.name!r} (Squeeze): dims {axes} of {list(shape)} are not 1")
    return [(tuple(d for i, d in enumerate(shape) if i not in axes), dt)]


def _concat(node, ins, known):
    shapes = [s for s, _ in ins]
    axis = _axis(node, node.attrs.get("axis", 0), len(shapes[0]))
    for s in shapes[1:]:
        if len(s) != len(shapes[0]) or any(a != b for i, (a, b) in
                                            enumerate(zip(s, shapes[0])) if i != axis):
            raise invalid(f"node {node.name!r} (Concat): shapes {shapes} differ off axis "
                          f"{axis}")
    out = list(shapes[0])
    out[axis] = sum(s[axis] for s in shapes)
    return [(tuple(out), ins[0][1])]


def _cast(node, ins, known):
    to = node.attrs.get("to")
    if to not in DTYPES:
        raise unimplemented(f"node {node.name!r} (Cast): to ONNX type {to}")
    return [(ins[0][0], DTYPES[to])]


def _layernorm(node, ins, known):
    return [ins[0]] + [((), ins[0][1])] * (len(node.outputs) - 1)


def _batchnorm(node, ins, known):
    if len(node.outputs) > 1:
        raise unimplemented(f"node {node.name!r} (BatchNormalization): training outputs")
    return [ins[0]]


SHAPE = {
    "Conv": _conv, "BatchNormalization": _batchnorm, "Relu": _same, "Clip": _same,
    "Sigmoid": _same, "Tanh": _same, "Erf": _same, "Sqrt": _same, "Neg": _same,
    "Add": _broadcast, "Sub": _broadcast, "Mul": _broadcast, "Div": _broadcast,
    "Pow": _broadcast,
    "MaxPool": _pool, "AveragePool": _pool, "GlobalAveragePool": _global_pool,
    "Flatten": _flatten, "Reshape": _reshape, "Transpose": _transpose,
    "Unsqueeze": _unsqueeze, "Squeeze": _squeeze, "Gemm": _gemm, "MatMul": _matmul,
    "Softmax": _same, "LayerNormalization": _layernorm, "Concat": _concat, "Cast": _cast,
    "Identity": _same, "Dropout": _same, "Constant": None, "Shape": None,
    "Gather": None, "Slice": None, "Equal": None, "Where": None, "ConstantOfShape": None,
    "Expand": None, "Range": None,
}


def _constant(node, args):
    for k in ("value", "value_float", "value_int", "value_floats", "value_ints"):
        if k in node.attrs:
            v = node.attrs[k]
            if isinstance(v, np.ndarray):
                return [v]
            return [np.array(v, np.float32 if "float" in k else np.int64)]
    raise unimplemented(f"node {node.name!r} (Constant): no value attribute this layer reads")


def _slice(node, args):
    data, starts, ends = args[0], args[1], args[2]
    axes = args[3] if len(args) > 3 and args[3] is not None else range(len(starts))
    steps = args[4] if len(args) > 4 and args[4] is not None else [1] * len(starts)
    index = [slice(None)] * data.ndim
    for a, s, e, st in zip(axes, starts, ends, steps):
        index[int(a)] = slice(int(s), int(e), int(st))
    return [data[tuple(index)]]


def _unsqueeze_fold(node, args):
    shape = _unsqueeze(node, [(args[0].shape, args[0].dtype)], args)[0][0]
    return [args[0].reshape(shape)]


def _squeeze_fold(node, args):
    shape = _squeeze(node, [(args[0].shape, args[0].dtype)], args)[0][0]
    return [args[0].reshape(shape)]


def _reshape_fold(node, args):
    return [args[0].reshape(reshape_target(node, args[0].shape, args[1]))]


def _cast_fold(node, args):
    return [args[0].astype(_cast(node, [(args[0].shape, args[0].dtype)], args)[0][1])]


def _binary(f):
    def fold(node, args):
        a, b = args
        out = f(a, b)
        if node.op == "Div" and np.issubdtype(a.dtype, np.integer):
            out = np.trunc(a / b)
        return [np.asarray(out).astype(a.dtype)]
    return fold


FOLD = {
    "Constant": _constant,
    "Identity": lambda n, a: [a[0]], "Dropout": lambda n, a: [a[0]],
    "Gather": lambda n, a: [np.take(a[0], a[1].astype(np.int64),
                                    axis=n.attrs.get("axis", 0))],
    "Concat": lambda n, a: [np.concatenate(a, axis=n.attrs.get("axis", 0))],
    "Unsqueeze": _unsqueeze_fold, "Squeeze": _squeeze_fold, "Reshape": _reshape_fold,
    "Cast": _cast_fold, "Slice": _slice,
    "Transpose": lambda n, a: [np.transpose(a[0], perm_of(n, a[0].ndim))],
    "Add": _binary(np.add), "Sub": _binary(np.subtract), "Mul": _binary(np.multiply),
    "Div": _binary(np.divide), "Pow": _binary(np.power),
    "Sqrt": lambda n, a: [np.sqrt(a[0])], "Neg": lambda n, a: [-a[0]],
    "Equal": lambda n, a: [np.equal(a[0], a[1])],
    "Where": lambda n, a: [np.where(a[0], a[1], a[2])],
    "ConstantOfShape": lambda n, a: [np.full(tuple(int(d) for d in a[0]),
                                             n.attrs.get("value", np.zeros(1, np.float32))
                                             .reshape(-1)[0])],
    "Expand": lambda n, a: [a[0] * np.ones(tuple(int(d) for d in a[1]), a[0].dtype)],
    "Range": lambda n, a: [np.arange(a[0], a[1], a[2]).astype(a[0].dtype)],
    "Flatten": lambda n, a: [a[0].reshape(_flatten(n, [(a[0].shape, a[0].dtype)], a)[0][0])],
}
