"""dnnl_py demo: a convolution with fused bias + ReLU and a matmul, built from Python the
way oneDNN's C++ API builds them, checked against numpy."""
import time

import numpy as np

import dnnl_py as dnnl


def conv_reference(x, w, b):
    """3x3, stride 1, padding 1, in float64 with numpy only."""
    n, c, h, wd = x.shape
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (1, 1), (1, 1)))
    out = np.zeros((n, w.shape[0], h, wd))
    for kh in range(3):
        for kw in range(3):
            out += np.einsum("nchw,oc->nohw", xp[:, :, kh:kh + h, kw:kw + wd], w[:, :, kh, kw])
    return out + b[None, :, None, None]


def main():
    rng = np.random.default_rng(0)
    eng = dnnl.engine(dnnl.engine.kind.cpu, 0)
    strm = dnnl.stream(eng)
    dt, tag = dnnl.memory.data_type, dnnl.memory.format_tag
    print(f"dnnl_py {'.'.join(map(str, dnnl.version()[:3]))} ({dnnl.version().hash[:12]})")

    # --- convolution: ResNet-50's res2a_branch2b, user data in nchw / oihw ---
    x = rng.standard_normal((1, 64, 56, 56), dtype=np.float32)
    w = rng.standard_normal((64, 64, 3, 3), dtype=np.float32) * 0.05
    b = rng.standard_normal(64, dtype=np.float32)
    user_src = dnnl.memory(dnnl.memory.desc([1, 64, 56, 56], dt.f32, tag.nchw), eng, x)
    user_wei = dnnl.memory(dnnl.memory.desc([64, 64, 3, 3], dt.f32, tag.oihw), eng, w)
    bia = dnnl.memory(dnnl.memory.desc([64], dt.f32, tag.a), eng, b)

    attr = dnnl.primitive_attr()
    po = dnnl.post_ops()
    po.append_eltwise(dnnl.algorithm.eltwise_relu, 0.0, 0.0)
    attr.set_post_ops(po)
    any_md = lambda dims: dnnl.memory.desc(dims, dt.f32, tag.any)  # noqa: E731
    pd = dnnl.convolution_forward.primitive_desc(
        eng, dnnl.prop_kind.forward_inference, dnnl.algorithm.convolution_direct,
        any_md([1, 64, 56, 56]), any_md([64, 64, 3, 3]), bia.get_desc(), any_md([1, 64, 56, 56]),
        strides=[1, 1], padding_l=[1, 1], padding_r=[1, 1], dilates=[0, 0], attr=attr)
    print(f"conv: {pd.impl_info_str()}, src {pd.src_desc().tag_str()}, "
          f"weights {pd.weights_desc().tag_str()}")

    def to_layout(mem, md):  # a reorder when the primitive wants another layout
        if mem.get_desc() == md:
            return mem
        out = dnnl.memory(md, eng)
        dnnl.reorder(mem, out).execute(strm, {dnnl.ARG_FROM: mem, dnnl.ARG_TO: out})
        return out

    conv = dnnl.convolution_forward(pd)
    src, wei = to_layout(user_src, pd.src_desc()), to_layout(user_wei, pd.weights_desc())
    dst = dnnl.memory(pd.dst_desc(), eng)
    args = {dnnl.ARG_SRC: src, dnnl.ARG_WEIGHTS: wei, dnnl.ARG_BIAS: bia, dnnl.ARG_DST: dst}
    conv.execute(strm, args)
    t0 = time.perf_counter()
    conv.execute(strm, args)
    strm.wait()
    ms = (time.perf_counter() - t0) * 1e3
    err = np.abs(dst.to_numpy() - np.maximum(conv_reference(x, w, b), 0)).max()
    gflops = 2 * 64 * 64 * 9 * 56 * 56 / ms / 1e6
    print(f"conv: {ms:.2f} ms ({gflops:.0f} GFLOP/s), max |error| vs numpy {err:.2e}")
    assert err < 1e-3

    # --- matmul: a BERT projection, 128x768 . 768x3072 + bias ---
    a = rng.standard_normal((128, 768), dtype=np.float32)
    bm = rng.standard_normal((768, 3072), dtype=np.float32)
    bias = rng.standard_normal((1, 3072), dtype=np.float32)
    a_md, b_md, bias_md, c_md = (dnnl.memory.desc(dims, dt.f32, tag.ab) for dims in
                                 ([128, 768], [768, 3072], [1, 3072], [128, 3072]))
    mm_pd = dnnl.matmul.primitive_desc(eng, a_md, b_md, bias_md, c_md)
    c = dnnl.memory(c_md, eng)
    dnnl.matmul(mm_pd).execute(strm, {dnnl.ARG_SRC: dnnl.memory(a_md, eng, a),
                                      dnnl.ARG_WEIGHTS: dnnl.memory(b_md, eng, bm),
                                      dnnl.ARG_BIAS: dnnl.memory(bias_md, eng, bias),
                                      dnnl.ARG_DST: c})
    err = np.abs(c.to_numpy() - (a.astype(np.float64) @ bm + bias)).max()
    print(f"matmul: {mm_pd.impl_info_str()}, max |error| vs numpy {err:.2e}")
    assert err < 1e-2
    opencl(x, w, b, dst.to_numpy())
    print("demo OK")


def opencl(x, w, b, cpu_out):
    """The same convolution on the OpenCL engine (the first OpenCL device: PoCL's CPU device
    where there is no GPU), then rebuilt from the engine's and the primitive's cache blobs,
    as a second process would."""
    try:
        import pyopencl as cl
        device = next(d for p in cl.get_platforms() for d in p.get_devices())
    except Exception as e:  # no pyopencl or no device: the CPU part stands alone
        print(f"opencl: skipped ({e or 'no device'})")
        return
    dt, tag = dnnl.memory.data_type, dnnl.memory.format_tag
    ctx = cl.Context([device])
    t0 = time.perf_counter()
    eng = dnnl.ocl_interop.make_engine(device, ctx)
    engine_ms = (time.perf_counter() - t0) * 1e3
    engine_blob = dnnl.ocl_interop.get_engine_cache_blob(eng)

    def run(eng, conv_blob=None):
        strm = dnnl.stream(eng)
        md = lambda dims, t: dnnl.memory.desc(dims, dt.f32, t)  # noqa: E731
        attr = dnnl.primitive_attr()
        po = dnnl.post_ops()
        po.append_eltwise(dnnl.algorithm.eltwise_relu, 0.0, 0.0)
        attr.set_post_ops(po)
        pd = dnnl.convolution_forward.primitive_desc(
            eng, dnnl.prop_kind.forward_inference, dnnl.algorithm.convolution_direct,
            md([1, 64, 56, 56], tag.nchw), md([64, 64, 3, 3], tag.oihw), md([64], tag.a),
            md([1, 64, 56, 56], tag.nchw), strides=[1, 1], padding_l=[1, 1],
            padding_r=[1, 1], attr=attr)
        t0 = time.perf_counter()
        conv = dnnl.convolution_forward(pd, conv_blob)
        dst = dnnl.memory(pd.dst_desc(), eng)
        conv.execute(strm, {dnnl.ARG_SRC: dnnl.memory(pd.src_desc(), eng, x),
                            dnnl.ARG_WEIGHTS: dnnl.memory(pd.weights_desc(), eng, w),
                            dnnl.ARG_BIAS: dnnl.memory(pd.bias_desc(), eng, b),
                            dnnl.ARG_DST: dst})
        strm.wait()
        ms = (time.perf_counter() - t0) * 1e3
        err = np.abs(dst.to_numpy() - cpu_out).max()
        assert err < 1e-3, err
        return conv, ms, err

    conv, miss_ms, err = run(eng)
    print(f"opencl: {device.name.strip()} ({device.platform.name.strip()}): engine {engine_ms:.0f}"
          f" ms, conv {conv.get_primitive_desc().impl_info_str()} created and run in "
          f"{miss_ms:.0f} ms, max |diff| vs the CPU engine {err:.1e}")
    conv_blob = conv.get_cache_blob()
    dnnl.clear_primitive_cache()  # as in a new process: only the blobs are left
    t0 = time.perf_counter()
    eng2 = dnnl.ocl_interop.make_engine(device, ctx, engine_blob)
    engine2_ms = (time.perf_counter() - t0) * 1e3
    _, blob_ms, _ = run(eng2, conv_blob)
    print(f"opencl: from cache blobs ({len(engine_blob) // 1024} + {len(conv_blob) // 1024} KiB):"
          f" engine {engine2_ms:.1f} ms, conv created and run in {blob_ms:.1f} ms")


if __name__ == "__main__":
    main()
