"""Building and running primitives from numpy arrays, as a user would."""
import numpy as np

import dnnl_py as dnnl
from dnnl_py.benchdnn.drivers import PLAIN, to_memory  # noqa: F401
from dnnl_py.benchdnn.drivers import attr_of as make_attr  # noqa: F401

tag, dt = dnnl.memory.format_tag, dnnl.memory.data_type
CHANNELS_LAST = {3: tag.acb, 4: tag.acdb, 5: tag.acdeb}


def run_conv(eng, strm, src, wei, bias, strides, dilates, pad_l, pad_r, ops=(),
             src_tag=tag.any, wei_tag=tag.any, dst_tag=tag.any, dst_init=None,
             alg=dnnl.algorithm.convolution_direct):
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
        eng, dnnl.prop_kind.forward_inference, alg, src_md,
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
