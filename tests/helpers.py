"""Building and running primitives from numpy arrays, as a user would."""
import numpy as np

import dnnl_py as dnnl

tag, dt = dnnl.memory.format_tag, dnnl.memory.data_type
PLAIN = {1: tag.a, 2: tag.ab, 3: tag.abc, 4: tag.abcd, 5: tag.abcde, 6: tag.abcdef}
CHANNELS_LAST = {3: tag.acb, 4: tag.acdb, 5: tag.acdeb}


def make_attr(ops):
    attr = dnnl.primitive_attr()
    po = dnnl.post_ops()
    for op in ops:
        if op[0] == "sum":
            po.append_sum(op[1])
        else:
            po.append_eltwise(getattr(dnnl.algorithm, op[1]), op[2], op[3])
    attr.set_post_ops(po)
    return attr


def to_memory(eng, strm, array, md):
    """A memory of layout `md` holding `array` (reordered from a plain one if needed)."""
    user = dnnl.memory(dnnl.memory.desc(array.shape, dt.f32, PLAIN[array.ndim]), eng,
                       np.array(array, np.float32, order="C"))  # a copy: dst is written
    if md == user.get_desc():
        return user
    mem = dnnl.memory(md, eng)
    dnnl.reorder(user, mem).execute(strm, {dnnl.ARG_FROM: user, dnnl.ARG_TO: mem})
    return mem


def run_conv(eng, strm, src, wei, bias, strides, dilates, pad_l, pad_r, ops=(),
             src_tag=tag.any, wei_tag=tag.any, dst_tag=tag.any, dst_init=None):
    """Forward convolution through dnnl_py; wei has a groups dim when its rank is src's+1."""
    out_sp = [(src.shape[2 + j] + pad_l[j] + pad_r[j] - (wei.shape[-len(strides) + j] - 1)
               * (dilates[j] + 1) - 1) // strides[j] + 1 for j in range(len(strides))]
    oc = wei.shape[0] * wei.shape[1] if wei.ndim == src.ndim + 1 else wei.shape[0]
    dst_dims = [src.shape[0], oc, *out_sp]
    src_md = dnnl.memory.desc(src.shape, dt.f32, src_tag)
    wei_md = dnnl.memory.desc(wei.shape, dt.f32, wei_tag)
    dst_md = dnnl.memory.desc(dst_dims, dt.f32, dst_tag)
    bia_md = dnnl.memory.desc([oc], dt.f32, tag.a) if bias is not None else None
    pd = dnnl.convolution_forward.primitive_desc(
        eng, dnnl.prop_kind.forward_inference, dnnl.algorithm.convolution_direct, src_md,
        wei_md, bia_md, dst_md, strides=strides, dilates=dilates, padding_l=pad_l,
        padding_r=pad_r, attr=make_attr(ops))
    args = {dnnl.ARG_SRC: to_memory(eng, strm, src, pd.src_desc()),
            dnnl.ARG_WEIGHTS: to_memory(eng, strm, wei, pd.weights_desc()),
            dnnl.ARG_DST: (to_memory(eng, strm, dst_init, pd.dst_desc()) if dst_init is not None
                           else dnnl.memory(pd.dst_desc(), eng))}
    if bias is not None:
        args[dnnl.ARG_BIAS] = dnnl.memory(bia_md, eng, np.ascontiguousarray(bias))
    dnnl.convolution_forward(pd).execute(strm, args)
    strm.wait()
    return args[dnnl.ARG_DST].to_numpy(), pd


def ocl_impls(module: str, *names: str) -> list:
    """The OpenCL implementation classes `names` of dnnl_py.ocl.<module>, as test
    parameters next to the CPU ones; none without pyopencl."""
    try:
        import importlib
        mod = importlib.import_module(f"dnnl_py.ocl.{module}")
    except ImportError:
        return []
    return [getattr(mod, name) for name in names]
