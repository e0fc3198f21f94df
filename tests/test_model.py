"""The model layer (docs/models.md): ONNX graphs built here with onnx.helper and random
weights, compiled and run, checked against a float64 numpy evaluation of the same graph
(tests/onnx_reference.py) and against onnxruntime when it is installed; the fusions the
plan makes; errors; the cache (fresh processes, damage, modes, encryption)."""
import copy
import hashlib
import math
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import dnnl_py as dnnl
from dnnl_py.cpu import _kernels

onnx = pytest.importorskip("onnx")
import onnx_reference  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOL = 2e-4  # f32 kernels against float64, relative to the output's largest magnitude


def _model(nodes, inputs, outputs, inits, opset=17):
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in outputs],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _w(rng, *shape, scale=0.3):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def residual_block(rng, c=16):
    """conv + bn + relu, conv + bn, + residual, relu, maxpool, global pool, flatten, gemm."""
    bn = {f"{p}{i}": v for i in (1, 2) for p, v in (
        ("g", rng.random(c, np.float32) + 0.5), ("b", _w(rng, c)), ("m", _w(rng, c)),
        ("v", rng.random(c, np.float32) + 0.5))}
    nodes = [
        helper.make_node("Conv", ["x", "W0"], ["c0"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c0"], ["r0"]),
        helper.make_node("Conv", ["r0", "W1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c1", "g1", "b1", "m1", "v1"], ["n1"]),
        helper.make_node("Relu", ["n1"], ["r1"]),
        helper.make_node("Conv", ["r1", "W2"], ["c2"], pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c2", "g2", "b2", "m2", "v2"], ["n2"]),
        helper.make_node("Add", ["n2", "r0"], ["a"]),
        helper.make_node("Relu", ["a"], ["r2"]),
        helper.make_node("MaxPool", ["r2"], ["p"], kernel_shape=[3, 3], strides=[2, 2],
                         pads=[1, 1, 1, 1]),
        helper.make_node("AveragePool", ["p"], ["ap"], kernel_shape=[2, 2], strides=[1, 1]),
        helper.make_node("GlobalAveragePool", ["ap"], ["gp"]),
        helper.make_node("Flatten", ["gp"], ["f"]),
        helper.make_node("Gemm", ["f", "Wf", "bf"], ["y"], transB=1),
    ]
    inits = {"W0": _w(rng, c, 3, 3, 3), "W1": _w(rng, c, c, 3, 3, scale=0.1),
             "W2": _w(rng, c, c, 3, 3, scale=0.1), "Wf": _w(rng, 10, c), "bf": _w(rng, 10),
             **bn}
    return _model(nodes, [("x", [1, 3, 12, 12])], ["y"], inits)


def mobilenet_block(rng, c=8, e=4):
    """expand 1x1 + clip(0, 6), depthwise 3x3 + clip, project 1x1, + residual."""
    nodes = [
        helper.make_node("Conv", ["x", "We", "be"], ["e"]),
        helper.make_node("Clip", ["e", "lo", "hi"], ["e6"]),
        helper.make_node("Conv", ["e6", "Wd", "bd"], ["d"], group=c * e, pads=[1, 1, 1, 1]),
        helper.make_node("Clip", ["d", "lo", "hi"], ["d6"]),
        helper.make_node("Conv", ["d6", "Wp", "bp"], ["p"]),
        helper.make_node("Add", ["x", "p"], ["y"]),
    ]
    inits = {"We": _w(rng, c * e, c, 1, 1), "be": _w(rng, c * e),
             "Wd": _w(rng, c * e, 1, 3, 3), "bd": _w(rng, c * e),
             "Wp": _w(rng, c, c * e, 1, 1), "bp": _w(rng, c),
             "lo": np.array(0.0, np.float32), "hi": np.array(6.0, np.float32)}
    return _model(nodes, [("x", [1, c, 10, 10])], ["y"], inits)


def attention_block(rng, s=8, h=16, heads=2):
    """A BERT layer as torch.onnx.export writes one: MatMul + bias, a shape sub-graph
    (Shape -> Gather -> Unsqueeze -> Concat) for the head split, Transpose, Q.K^T / sqrt,
    Softmax, residual + LayerNorm, GELU-erf, Concat, Sigmoid, Tanh, Sub."""
    d = h // heads
    n = helper.make_node
    c = {"Wq": _w(rng, h, h), "bq": _w(rng, h), "Wk": _w(rng, h, h), "bk": _w(rng, h),
         "Wv": _w(rng, h, h), "bv": _w(rng, h), "Wo": _w(rng, h, h), "bo": _w(rng, h),
         "g1": rng.random(h, np.float32) + 0.5, "b1": _w(rng, h),
         "Wi": _w(rng, h, 2 * h), "bi": _w(rng, 2 * h), "Wout": _w(rng, 2 * h, h),
         "sqrt_d": np.array(math.sqrt(d), np.float32), "sqrt2": np.array(math.sqrt(2), np.float32),
         "one": np.array(1.0, np.float32), "half": np.array(0.5, np.float32),
         "i0": np.array(0, np.int64), "i1": np.array(1, np.int64),
         "ax0": np.array([0], np.int64), "heads": np.array([heads], np.int64),
         "dh": np.array([d], np.int64), "flat": np.array([0, 0, h], np.int64)}
    nodes = [
        n("Shape", ["x"], ["shp"]),
        n("Gather", ["shp", "i0"], ["bsz"]), n("Gather", ["shp", "i1"], ["seq"]),
        n("Unsqueeze", ["bsz", "ax0"], ["bsz1"]), n("Unsqueeze", ["seq", "ax0"], ["seq1"]),
        n("Concat", ["bsz1", "seq1", "heads", "dh"], ["split"], axis=0),
    ]
    for t in "qkv":
        nodes += [n("MatMul", ["x", f"W{t}"], [f"{t}0"]),
                  n("Add", [f"{t}0", f"b{t}"], [f"{t}1"]),
                  n("Reshape", [f"{t}1", "split"], [f"{t}2"]),
                  n("Transpose", [f"{t}2"], [f"{t}3"],
                    perm=[0, 2, 3, 1] if t == "k" else [0, 2, 1, 3])]
    nodes += [
        n("MatMul", ["q3", "k3"], ["qk"]), n("Div", ["qk", "sqrt_d"], ["qks"]),
        n("Softmax", ["qks"], ["att"], axis=-1), n("MatMul", ["att", "v3"], ["ctx0"]),
        n("Transpose", ["ctx0"], ["ctx1"], perm=[0, 2, 1, 3]),
        n("Reshape", ["ctx1", "flat"], ["ctx"]),
        n("MatMul", ["ctx", "Wo"], ["o0"]), n("Add", ["o0", "bo"], ["o1"]),
        n("Add", ["o1", "x"], ["res"]),
        n("LayerNormalization", ["res", "g1", "b1"], ["ln"], axis=-1, epsilon=1e-5),
        n("MatMul", ["ln", "Wi"], ["i0m"]), n("Add", ["i0m", "bi"], ["i1m"]),
        n("Div", ["i1m", "sqrt2"], ["gd"]), n("Erf", ["gd"], ["ge"]),
        n("Add", ["ge", "one"], ["ga"]), n("Mul", ["i1m", "ga"], ["gm"]),
        n("Mul", ["gm", "half"], ["gelu"]),
        n("MatMul", ["gelu", "Wout"], ["out0"]), n("Add", ["out0", "ln"], ["out1"]),
        n("Sigmoid", ["out1"], ["sg"]), n("Tanh", ["ln"], ["th"]),
        n("Sub", ["sg", "th"], ["df"]),
        n("Concat", ["out1", "df"], ["y"], axis=1),
    ]
    return _model(nodes, [("x", [1, s, h])], ["y"], c)


MODELS = {"residual": residual_block, "mobilenet": mobilenet_block,
          "attention": attention_block}


def _input(model, rng):
    shape = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    return rng.standard_normal(shape).astype(np.float32)


def _check(got, ref, tol=TOL):
    assert got.shape == ref.shape
    err = np.abs(got - ref).max() / max(np.abs(ref).max(), 1e-30)
    assert err < tol, f"max error {err:.2e} (relative to max |ref|)"


@pytest.mark.parametrize("name", sorted(MODELS))
def test_outputs_match_float64_reference(name, rng):
    model = MODELS[name](rng)
    x = _input(model, rng)
    compiled = dnnl.Core().compile_model(model, "CPU")
    got = compiled({"x": x})
    ref = onnx_reference.run(model, {"x": x})[0]
    _check(got["y"], ref)
    _check(got[0], ref)  # by index too
    req = compiled.create_infer_request()
    req.infer([x])
    _check(req.get_output_tensor(0).data, ref)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_outputs_match_onnxruntime(name, rng):
    ort = pytest.importorskip("onnxruntime")
    model = MODELS[name](rng)
    x = _input(model, rng)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    _check(dnnl.Core().compile_model(model, "CPU")([x])[0], sess.run(None, {"x": x})[0])


POOLS = [
    ("MaxPool", dict(kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)),
    ("MaxPool", dict(kernel_shape=[3, 3], strides=[1, 1], dilations=[2, 2], pads=[1, 2, 0, 1])),
    ("AveragePool", dict(kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)),
    ("AveragePool", dict(kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1,
                         count_include_pad=1)),
    ("AveragePool", dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
                         count_include_pad=1)),
    ("AveragePool", dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1)),
]


@pytest.mark.parametrize("op,attrs", POOLS, ids=[f"{o}-{sorted(a)}" for o, a in POOLS])
def test_pooling_variants(op, attrs, rng):
    """ceil_mode, dilation, asymmetric pads and count_include_pad as ONNX defines them."""
    model = _model([helper.make_node(op, ["x"], ["y"], **attrs)], [("x", [1, 3, 10, 11])],
                   ["y"], {})
    x = _input(model, rng)
    _check(dnnl.Core().compile_model(model)([x])[0], onnx_reference.run(model, {"x": x})[0])


def _variants():
    """(id, nodes, inputs, initializers): single ops and small chains in the layouts and
    broadcasts a plan meets (after a convolution the layout is nhwc)."""
    r = np.random.default_rng(5)
    w = {"Wc": _w(r, 4, 3, 3, 3), "W2": _w(r, 4, 4, 3, 3)}
    conv = helper.make_node("Conv", ["x", "Wc"], ["c"], pads=[1, 1, 1, 1])
    n = helper.make_node
    x = [("x", [2, 3, 6, 5])]
    return [
        ("sub_broadcast", [conv, n("Sub", ["c", "b"], ["y"])], x, {**w, "b": _w(r, 4, 1, 1)}),
        ("mul_first_broadcast", [conv, n("Mul", ["b", "c"], ["y"])], x,
         {**w, "b": _w(r, 1, 4, 1, 1)}),
        ("flatten_axis2", [conv, n("Flatten", ["c"], ["y"], axis=2)], x, w),
        ("transpose_nhwc", [conv, n("Transpose", ["c"], ["y"], perm=[0, 3, 1, 2])], x, w),
        ("softmax_axis1", [conv, n("Softmax", ["c"], ["y"], axis=1)], x, w),
        ("concat_constant", [conv, n("Concat", ["c", "k"], ["y"], axis=1)], x,
         {**w, "k": _w(r, 2, 2, 6, 5)}),
        ("clip_min_only", [conv, n("Clip", ["c", "lo"], ["y"])], x,
         {**w, "lo": np.array(0.1, np.float32)}),
        ("sigmoid_tanh", [n("Sigmoid", ["x"], ["s"]), n("Tanh", ["s"], ["y"])], x, {}),
        ("unsqueeze_squeeze", [conv, n("Unsqueeze", ["c", "ax"], ["u"]),
                               n("Squeeze", ["u", "ax"], ["y"])], x,
         {**w, "ax": np.array([2], np.int64)}),
        ("conv_then_bias_add", [conv, n("Add", ["c", "b"], ["y"])], x,
         {**w, "b": _w(r, 1, 4, 1, 1)}),
        ("residual_read_twice", [conv, n("Relu", ["c"], ["q"]),
                                 n("Conv", ["q", "W2"], ["c2"], pads=[1, 1, 1, 1]),
                                 n("Add", ["c2", "q"], ["a"]), n("Add", ["a", "q"], ["y"])],
         x, w),
        ("gemm_transb_alpha_beta", [n("Gemm", ["x", "B", "C"], ["y"], transB=1, alpha=0.5,
                                      beta=2.0)], [("x", [3, 5])],
         {"B": _w(r, 4, 5), "C": _w(r, 4)}),
        ("matmul_3d_by_2d", [n("MatMul", ["x", "b"], ["y"])], [("x", [2, 3, 5]), ("b", [5, 4])],
         {}),
        ("matmul_batch_broadcast", [n("MatMul", ["x", "b"], ["y"])],
         [("x", [2, 1, 3, 5]), ("b", [1, 4, 5, 2])], {}),
        ("layernorm_no_bias", [n("LayerNormalization", ["x", "g"], ["y"], epsilon=1e-3)],
         [("x", [2, 3, 8])], {"g": _w(r, 8)}),
        ("add_broadcast_computed", [n("Add", ["x", "b"], ["y"])],
         [("x", [2, 3, 8]), ("b", [3, 1])], {}),
    ]


VARIANTS = _variants()


@pytest.mark.parametrize("nodes,inputs,inits", [v[1:] for v in VARIANTS],
                         ids=[v[0] for v in VARIANTS])
def test_op_variants(nodes, inputs, inits, rng):
    model = _model(nodes, inputs, ["y"], inits)
    feeds = {name: rng.standard_normal(shape).astype(np.float32) for name, shape in inputs}
    got = dnnl.Core().compile_model(model)(feeds)[0]
    _check(got, onnx_reference.run(model, feeds)[0])


def _post_ops(compiled):
    return [(prim.get_primitive_desc().get_kind().name,
             prim.get_primitive_desc().get_primitive_attr().get_post_ops().verbose_str())
            for prim, _ in compiled._plan.steps]


def test_fusions(rng):
    steps = _post_ops(dnnl.Core().compile_model(residual_block(rng), "CPU"))
    kinds = [k for k, _ in steps]
    assert "batch_normalization" not in kinds and "eltwise" not in kinds
    assert "binary" not in kinds  # the residual add is a sum post-op
    assert ("convolution", "attr-post-ops:sum+eltwise_relu") in steps
    steps = _post_ops(dnnl.Core().compile_model(mobilenet_block(rng), "CPU"))
    assert [k for k, _ in steps].count("convolution") == 3
    assert ("convolution", "attr-post-ops:eltwise_clip:0:6") in steps
    assert ("convolution", "attr-post-ops:sum") in steps
    steps = _post_ops(dnnl.Core().compile_model(attention_block(rng), "CPU"))
    assert ("matmul", "attr-post-ops:eltwise_gelu_erf") in steps  # bias is the matmul's
    assert ("matmul", "attr-post-ops:sum") in steps
    assert ("matmul", "attr-post-ops:eltwise_linear:0.353553") in steps  # / sqrt(8)


def test_convolutions_let_the_engine_choose(rng):
    """Convolutions are created as convolution_auto: on AVX-512 a 3x3 stride-1 layer with
    channels in multiples of 16 and pixels to spare runs Winograd (cpu:wino_2x3), with
    its bias, residual sum and relu, and matches the float64 reference; the 1x1 does
    not. The descriptor reports the algorithm that runs, as oneDNN's."""
    nodes = [helper.make_node("Conv", ["x", "W0", "b0"], ["c0"], kernel_shape=[3, 3],
                              pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c0"], ["r0"]),
             helper.make_node("Conv", ["r0", "W1"], ["c1"], kernel_shape=[3, 3],
                              pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["c1", "r0"], ["a"]),
             helper.make_node("Relu", ["a"], ["r1"]),
             helper.make_node("Conv", ["r1", "W2"], ["y"])]
    model = _model(nodes, [("x", [1, 16, 63, 64])], ["y"],
                   {"W0": _w(rng, 32, 16, 3, 3), "b0": _w(rng, 32),
                    "W1": _w(rng, 32, 32, 3, 3, scale=0.1), "W2": _w(rng, 16, 32, 1, 1)})
    compiled = dnnl.Core().compile_model(model, "CPU")
    pds = [prim.get_primitive_desc() for prim, _ in compiled._plan.steps]
    convs = [pd for pd in pds if pd.get_kind().name == "convolution"]
    assert all(pd._problem.alg == dnnl.algorithm.convolution_auto for pd in convs)
    wino, direct = dnnl.algorithm.convolution_winograd, dnnl.algorithm.convolution_direct
    if _kernels.cpu_isa() == "avx512":
        assert [pd.get_algorithm() for pd in convs] == [wino, wino, direct]
        assert [pd.impl_info_str() for pd in convs][:2] == ["cpu:wino_2x3:avx512"] * 2
    x = _input(model, rng)
    _check(compiled([x])[0], onnx_reference.run(model, {"x": x})[0])


def test_arena_reuses_regions(rng):
    compiled = dnnl.Core().compile_model(residual_block(rng, c=32), "CPU")
    # c0/r0, r1, c2 and the residual are each 32 x 12 x 12 floats: without reuse the
    # arena would hold every value at once
    assert compiled.get_property("ARENA_BYTES") < 5 * 32 * 12 * 12 * 4


def test_ports_and_properties(rng):
    core = dnnl.Core()
    assert core.get_available_devices()[0] == "CPU"
    assert "EXPORT_IMPORT" in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    model = core.read_model(residual_block(rng).SerializeToString())
    assert model.inputs[0].get_any_name() == "x" and model.inputs[0].shape == (1, 3, 12, 12)
    assert model.outputs[0].shape == (1, 10)
    compiled = core.compile_model(model)
    assert compiled.get_property("LOADED_FROM_CACHE") is False
    with pytest.raises(dnnl.error, match="CACHE_MODE"):
        core.set_property({"CACHE_MODE": "FAST"})
    with pytest.raises(dnnl.error, match="NOPE"):
        core.compile_model(model, "CPU", {"NOPE": 1})
    with pytest.raises(dnnl.error, match="shape"):
        compiled([np.zeros((1, 3, 12, 11), np.float32)])
    with pytest.raises(dnnl.error, match="device"):
        core.compile_model(model, "NPU")


def test_unsupported_op_is_named(rng):
    model = _model([helper.make_node("Sin", ["x"], ["y"], name="my_sin")], [("x", [2, 3])],
                   ["y"], {})
    with pytest.raises(dnnl.error, match="my_sin.*Sin") as e:
        dnnl.Core().compile_model(model)
    assert e.value.status == dnnl.status.unimplemented
    model = _model([helper.make_node("Erf", ["x"], ["y"], name="lone_erf")],
                   [("x", [2, 3])], ["y"], {})
    with pytest.raises(dnnl.error, match="lone_erf.*Erf.*GELU"):
        dnnl.Core().compile_model(model)


def test_dynamic_dim_is_unimplemented():
    model = _model([helper.make_node("Relu", ["x"], ["y"])], [("x", ["batch", 3])], ["y"], {})
    with pytest.raises(dnnl.error, match="'x'.*dynamic") as e:
        dnnl.read_model(model)
    assert e.value.status == dnnl.status.unimplemented


def test_protobuf_fields():
    """The wire-format scanner (csrc/proto.c) against the protobuf encoding written out by
    hand: every wire type, more fields than one scan takes (128), and each malformed
    field named."""
    from dnnl_py.model import onnx_proto as pb

    def varint(v):
        out = bytearray()
        while True:
            out.append(v & 0x7F | (0x80 if v > 0x7F else 0))
            v >>= 7
            if not v:
                return bytes(out)
    msg = (varint(1 << 3 | 0) + varint(2**63 + 5) + varint(2 << 3 | 2) + varint(3) + b"abc"
           + varint(3 << 3 | 1) + (7).to_bytes(8, "little") + varint(300 << 3 | 5)
           + (9).to_bytes(4, "little") + b"".join(varint(4 << 3) + varint(i) for i in range(200)))
    got = pb.fields(memoryview(msg))
    assert [(n, w) for n, w, _ in got[:4]] == [(1, 0), (2, 2), (3, 1), (300, 5)]
    assert got[0][2] == 2**63 + 5 and bytes(got[1][2]) == b"abc" and got[2][2] == 7
    assert got[3][2] == 9 and [v for _, _, v in got[4:]] == list(range(200))
    assert isinstance(got[1][2], memoryview) and pb.fields(b"") == []
    for bad, message in ((varint(1 << 3) + b"\xff" * 11, "malformed varint"),
                         (varint(1 << 3), "malformed varint"),
                         (varint(5 << 3 | 2) + varint(10) + b"abc", "field 5 runs past the end"),
                         (varint(6 << 3 | 1) + b"1234", "truncated fixed64"),
                         (varint(6 << 3 | 5) + b"12", "truncated fixed32"),
                         (varint(7 << 3 | 3), "wire type 3 of field 7 is not protobuf")):
        with pytest.raises(dnnl.error, match=message) as e:
            pb.fields(memoryview(msg + bad))
        assert e.value.status == dnnl.status.invalid_arguments


@pytest.mark.parametrize("cut", [0.1, 0.5, 0.97])
def test_malformed_file_is_invalid_arguments(rng, tmp_path, cut):
    data = residual_block(rng).SerializeToString()
    for bad in (data[:int(len(data) * cut)], bytes(rng.integers(0, 256, 300, np.uint8))):
        path = tmp_path / "bad.onnx"
        path.write_bytes(bad)
        with pytest.raises(dnnl.error) as e:
            dnnl.Core().compile_model(str(path))
        assert e.value.status in (dnnl.status.invalid_arguments, dnnl.status.unimplemented)
    with pytest.raises(dnnl.error, match="cannot read"):
        dnnl.read_model(str(tmp_path / "missing.onnx"))


def test_mutated_files_never_crash():
    """Bytes flipped, cut or inserted anywhere in a model: a dnnl.error, or a model that
    compiles and runs (a weight's value changed), never another exception."""
    rng = np.random.default_rng(11)
    data = attention_block(np.random.default_rng(0)).SerializeToString()
    ran = 0
    for _ in range(60):
        bad = bytearray(data)
        i = int(rng.integers(0, len(bad)))
        what = rng.random()
        if what < 0.6:
            bad[i] = int(rng.integers(0, 256))
        elif what < 0.8:
            del bad[i:i + int(rng.integers(1, 40))]
        else:
            bad[i:i] = bytes(rng.integers(0, 256, 8, np.uint8))
        try:
            compiled = dnnl.Core().compile_model(bytes(bad))
            compiled([np.zeros(p.shape, np.float32) for p in compiled.inputs])
            ran += 1
        except dnnl.error:
            pass
    assert 0 < ran < 60  # both outcomes were exercised


def test_external_data_and_object_are_one_entry(rng, tmp_path):
    """The same model from a path (weights in an external file) and as an object is one
    cache entry: the key is the content."""
    model = residual_block(rng)
    x = _input(model, rng)
    path = tmp_path / "m.onnx"
    # (save_model turns the object's tensors into references: save a copy)
    onnx.save_model(copy.deepcopy(model), str(path), save_as_external_data=True,
                    all_tensors_to_one_file=True,
                    location="m.data", size_threshold=0)
    assert (tmp_path / "m.data").stat().st_size > 1000
    cache = tmp_path / "cache"
    core = dnnl.Core()
    core.set_property({"CACHE_DIR": str(cache)})
    first = core.compile_model(str(path))
    second = core.compile_model(model)
    assert not first.get_property("LOADED_FROM_CACHE")
    assert second.get_property("LOADED_FROM_CACHE")
    np.testing.assert_array_equal(first([x])[0], second([x])[0])


# -- the cache in fresh processes ---------------------------------------------------------
_CHILD = textwrap.dedent("""
    import sys, numpy as np, dnnl_py as dnnl
    from dnnl_py import tuning
    path, cache, forbid = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
    if forbid:  # a cache hit must not measure anything: make measuring impossible
        def refuse(pd):
            raise RuntimeError("tuning ran: the cache missed")
        tuning.tune = refuse
    core = dnnl.Core()
    compiled = core.compile_model(path, "CPU", {"CACHE_DIR": cache, "TUNING": "ON",
                                                "CACHE_MODE": sys.argv[4]})
    x = np.random.default_rng(0).standard_normal(compiled.inputs[0].shape).astype(np.float32)
    np.save(sys.argv[5], compiled([x])[0])
    print(compiled.get_property("LOADED_FROM_CACHE"))
""")


def _child(tmp_path, path, cache, forbid, mode="OPTIMIZE_SPEED", tag="out"):
    out = tmp_path / f"{tag}.npy"
    env = dict(os.environ, PYTHONPATH=ROOT, DNNL_PY_CACHE_FAILURE_FATAL="0")
    res = subprocess.run([sys.executable, "-c", _CHILD, str(path), str(cache),
                          "1" if forbid else "0", mode, str(out)],
                         capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr
    return res.stdout.strip() == "True", np.load(out), res.stderr


def _model_entry(cache):
    """The model's entry among cache's files: the largest (a model compiled from a path
    also leaves a guess of ~100 bytes there: core._hint_key)."""
    files = [f for f in cache.iterdir() if not f.name.startswith(".tmp")]
    assert len(files) <= 2, files
    return max(files, key=lambda f: f.stat().st_size)


@pytest.fixture
def small_model(tmp_path):
    rng = np.random.default_rng(7)
    path = tmp_path / "m.onnx"
    onnx.save_model(mobilenet_block(rng, c=16, e=2), str(path))
    return path


@pytest.mark.parametrize("mode", ["OPTIMIZE_SPEED", "OPTIMIZE_SIZE"])
def test_warm_compile_in_a_fresh_process(tmp_path, small_model, mode):
    cache = tmp_path / "cache"
    loaded, cold, _ = _child(tmp_path, small_model, cache, False, mode, "cold")
    assert not loaded
    loaded, warm, _ = _child(tmp_path, small_model, cache, True, mode, "warm")
    assert loaded
    np.testing.assert_array_equal(cold, warm)
    entry = _model_entry(cache).stat().st_size
    if mode == "OPTIMIZE_SIZE":  # primitive blobs and a hash, not the weights
        assert entry < 0.5 * small_model.stat().st_size
    else:
        assert entry > small_model.stat().st_size * 0.9


def test_tuned_entry_serves_untuned_compile(tmp_path, small_model):
    """FFTW's wisdom rule: a tuned entry serves a compile without tuning, never the
    reverse."""
    core = dnnl.Core()
    untuned = {"CACHE_DIR": str(tmp_path / "a"), "TUNING": "OFF"}
    tuned = {"CACHE_DIR": str(tmp_path / "a"), "TUNING": "ON"}
    x = np.random.default_rng(4).standard_normal((1, 16, 10, 10)).astype(np.float32)
    first = core.compile_model(str(small_model), "CPU", tuned)
    assert not first.get_property("LOADED_FROM_CACHE")
    served = core.compile_model(str(small_model), "CPU", untuned)
    assert served.get_property("LOADED_FROM_CACHE")
    np.testing.assert_array_equal(served([x])[0], first([x])[0])
    other = {"CACHE_DIR": str(tmp_path / "b")}
    core.compile_model(str(small_model), "CPU", {**other, "TUNING": "OFF"})
    not_served = core.compile_model(str(small_model), "CPU", {**other, "TUNING": "ON"})
    assert not not_served.get_property("LOADED_FROM_CACHE")


def test_cache_max_bytes_bounds_the_directory(tmp_path, rng):
    core = dnnl.Core()
    first, second = mobilenet_block(rng), residual_block(rng)
    sizes = []
    for i, m in enumerate((first, second)):
        core.compile_model(m, "CPU", {"CACHE_DIR": str(tmp_path / f"alone{i}")})
        sizes.append(next((tmp_path / f"alone{i}").iterdir()).stat().st_size)
    cache = tmp_path / "cache"
    bound = {"CACHE_DIR": str(cache), "CACHE_MAX_BYTES": max(sizes) + 64}
    assert max(sizes) + 64 < sum(sizes)
    core.compile_model(first, "CPU", bound)
    core.compile_model(second, "CPU", bound)  # the least recently used entry goes
    assert len(list(cache.iterdir())) == 1
    assert core.compile_model(second, "CPU", bound).get_property("LOADED_FROM_CACHE")
    assert not core.compile_model(first, "CPU", bound).get_property("LOADED_FROM_CACHE")


@pytest.fixture
def tolerant_cache(monkeypatch):
    monkeypatch.setenv("DNNL_PY_CACHE_FAILURE_FATAL", "0")


@pytest.mark.parametrize("damage", ["truncate", "flip", "flip_index", "foreign"])
def test_damaged_entry_is_a_miss_and_rewritten(tmp_path, small_model, tolerant_cache, damage,
                                               caplog):
    cache = tmp_path / "cache"
    core = dnnl.Core()
    config = {"CACHE_DIR": str(cache)}
    x = np.random.default_rng(1).standard_normal((1, 16, 10, 10)).astype(np.float32)
    ref = core.compile_model(str(small_model), "CPU", config)([x])[0]
    entry = _model_entry(cache)
    data = bytearray(entry.read_bytes())
    if damage == "truncate":
        data = data[:len(data) // 2]
    elif damage == "flip":  # in a weight
        data[len(data) // 2] ^= 0x40
    elif damage == "flip_index":  # in a primitive blob's record
        data[300] ^= 0x40
    else:
        data = bytearray(b"not ours" * 100)
    entry.write_bytes(bytes(data))
    with caplog.at_level("WARNING", logger="dnnl_py.cache"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the entry's own check warns too
        again = core.compile_model(str(small_model), "CPU", config)
    assert "dropping cache entry" in caplog.text  # logged, as every damaged entry is
    assert not again.get_property("LOADED_FROM_CACHE")
    np.testing.assert_array_equal(again([x])[0], ref)
    third = core.compile_model(str(small_model), "CPU", config)
    assert third.get_property("LOADED_FROM_CACHE")  # rewritten
    np.testing.assert_array_equal(third([x])[0], ref)


def test_changed_weights_are_a_miss(tmp_path, small_model):
    """A weight changed in place with the file's mtime restored: the key is the content."""
    cache = tmp_path / "cache"
    core = dnnl.Core()
    for mode in ("OPTIMIZE_SIZE", "OPTIMIZE_SPEED"):
        config = {"CACHE_DIR": str(cache), "CACHE_MODE": mode}
        core.compile_model(str(small_model), "CPU", config)
        st = small_model.stat()
        model = onnx.load(str(small_model))
        w = numpy_helper.to_array(model.graph.initializer[0]).copy()
        w.flat[0] += 1.0
        model.graph.initializer[0].CopyFrom(numpy_helper.from_array(w, "We"))
        onnx.save_model(model, str(small_model))
        os.utime(small_model, ns=(st.st_atime_ns, st.st_mtime_ns))
        changed = core.compile_model(str(small_model), "CPU", config)
        assert not changed.get_property("LOADED_FROM_CACHE")
        x = np.random.default_rng(2).standard_normal((1, 16, 10, 10)).astype(np.float32)
        ref = onnx_reference.run(model, {"x": x})[0]
        _check(changed([x])[0], ref)


def test_encryption_covers_the_whole_entry(tmp_path, small_model, tolerant_cache, caplog):
    def encrypt(b):
        return bytes(v ^ 0x5A for v in b)

    cache = tmp_path / "cache"
    core = dnnl.Core()
    config = {"CACHE_DIR": str(cache), "CACHE_ENCRYPTION_CALLBACKS": [encrypt, encrypt]}
    x = np.random.default_rng(3).standard_normal((1, 16, 10, 10)).astype(np.float32)
    ref = core.compile_model(str(small_model), "CPU", config)([x])[0]
    on_disk = b"".join(f.read_bytes() for f in cache.iterdir())  # the guess too
    model = onnx.load(str(small_model))
    for init in model.graph.initializer:  # no weight (reordered or not) in plaintext
        w = numpy_helper.to_array(init).astype(np.float32)
        if w.size >= 8:
            assert w.tobytes()[:32] not in on_disk
            assert np.ascontiguousarray(w.reshape(w.shape[0], -1).T).tobytes()[:32] \
                not in on_disk
    assert b"DNNLPYM1" not in on_disk and b"DNNLPYB" not in on_disk
    warm = core.compile_model(str(small_model), "CPU", config)
    assert warm.get_property("LOADED_FROM_CACHE")
    np.testing.assert_array_equal(warm([x])[0], ref)
    wrong = {"CACHE_DIR": str(cache), "CACHE_ENCRYPTION_CALLBACKS": [encrypt, lambda b: b]}
    with caplog.at_level("WARNING", logger="dnnl_py.cache"), pytest.warns(RuntimeWarning):
        missed = core.compile_model(str(small_model), "CPU", wrong)
    assert "dropping cache entry" in caplog.text
    assert not missed.get_property("LOADED_FROM_CACHE")
    np.testing.assert_array_equal(missed([x])[0], ref)


def _crc32c_bitwise(data: bytes, crc: int = 0) -> int:
    """CRC-32C as its definition reads: reflected polynomial 0x82F63B78, one bit a step."""
    crc ^= 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def test_crc32c_against_its_definition(rng):
    """The cache entry's damage check (csrc/checksum.c): the standard check value, every
    length and start offset around the 8-byte steps, continuation, a flipped bit."""
    from dnnl_py.cpu._kernels import crc32c
    assert crc32c(b"123456789") == 0xE3069283  # CRC-32C's published check value
    assert crc32c(b"") == 0
    data = rng.integers(0, 256, 64, dtype=np.uint8).tobytes()
    for start in range(9):
        for end in range(start, 40):
            assert crc32c(data[start:end]) == _crc32c_bitwise(data[start:end]), (start, end)
    assert crc32c(data[20:], crc32c(data[:20])) == crc32c(data)
    mv = memoryview(bytearray(data)).cast("B")[3:]  # a view at an odd address
    assert crc32c(mv) == _crc32c_bitwise(data[3:])
    flipped = bytearray(data)
    flipped[33] ^= 0x10
    assert crc32c(bytes(flipped)) != crc32c(data)
    # the three-stream loop: rounds of 3 x 4096 bytes joined by shifting, then the rest
    long = rng.integers(0, 256, 3 * 3 * 4096 + 77, dtype=np.uint8).tobytes()
    for start, end in ((0, 3 * 4096), (0, 3 * 4096 - 1), (5, 3 * 4096 + 5), (1, 6 * 4096 + 9),
                       (0, len(long)), (3, len(long))):
        assert crc32c(long[start:end]) == _crc32c_bitwise(long[start:end]), (start, end)
    assert crc32c(long[12300:], crc32c(long[:12300])) == crc32c(long)


_B3_IV = (0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C,
          0x1F83D9AB, 0x5BE0CD19)
_B3_PERMUTATION = (2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8)


def _blake3_compress(cv, block: bytes, counter: int, length: int, flags: int) -> list:
    """The specification's compression function, word for word (first 8 words out)."""
    m = list(np.frombuffer(block.ljust(64, b"\0"), "<u4").tolist())
    v = [*cv, *_B3_IV[:4], counter & 0xFFFFFFFF, counter >> 32, length, flags]

    def g(a, b, c, d, x, y):
        for mx, r1, r2 in ((x, 16, 12), (y, 8, 7)):
            v[a] = (v[a] + v[b] + mx) & 0xFFFFFFFF
            v[d] = ((v[d] ^ v[a]) >> r1 | (v[d] ^ v[a]) << (32 - r1)) & 0xFFFFFFFF
            v[c] = (v[c] + v[d]) & 0xFFFFFFFF
            v[b] = ((v[b] ^ v[c]) >> r2 | (v[b] ^ v[c]) << (32 - r2)) & 0xFFFFFFFF
    for _ in range(7):
        for i, (a, b, c, d) in enumerate(((0, 4, 8, 12), (1, 5, 9, 13), (2, 6, 10, 14),
                                          (3, 7, 11, 15), (0, 5, 10, 15), (1, 6, 11, 12),
                                          (2, 7, 8, 13), (3, 4, 9, 14))):
            g(a, b, c, d, m[2 * i], m[2 * i + 1])
        m = [m[k] for k in _B3_PERMUTATION]
    return [v[i] ^ v[i + 8] for i in range(8)]


def _blake3_reference(data: bytes) -> bytes:
    """BLAKE3 as the specification's incremental hasher computes it: chunks in order,
    a stack of subtree chaining values merged as the chunk count's trailing zeros say,
    the rest merged at the end, the root flagged (independent of csrc/blake3.c's
    subtrees and level-by-level lanes)."""
    start, end, parent, root = 1, 2, 4, 8
    chunks = [data[i:i + 1024] for i in range(0, len(data), 1024)] or [b""]

    def chunk_cv(chunk: bytes, counter: int, flags: int) -> list:
        cv, blocks = list(_B3_IV), [chunk[i:i + 64] for i in range(0, len(chunk), 64)]
        for k, block in enumerate(blocks or [b""]):
            last = k == max(len(blocks), 1) - 1
            cv = _blake3_compress(cv, block, counter, len(block),
                                  (start if k == 0 else 0) | (end | flags if last else 0))
        return cv
    stack: list = []
    for index, chunk in enumerate(chunks[:-1]):
        cv, total = chunk_cv(chunk, index, 0), index + 1
        while total % 2 == 0:
            cv = _blake3_compress(_B3_IV, _words(stack.pop() + cv), 0, 64, parent)
            total //= 2
        stack.append(cv)
    if not stack:
        return _words(chunk_cv(chunks[-1], 0, root))
    cv = chunk_cv(chunks[-1], len(chunks) - 1, 0)
    while stack:
        cv = _blake3_compress(_B3_IV, _words(stack.pop() + cv), 0, 64,
                              parent | (root if not stack else 0))
    return _words(cv)


def _words(words: list) -> bytes:
    return np.array(words, "<u4").tobytes()


def test_blake3_against_published_vectors_and_the_specification():
    """csrc/blake3.c: the BLAKE3 team's published vectors (input byte i = i % 251;
    test_vectors.json, first 32 bytes), then the specification's hasher in Python over
    lengths around what the C code does differently: a partial last chunk, 16 chunks a
    batch of lanes (a short batch repeating its last lane), 256-chunk subtrees and the
    merges of several of them."""
    from dnnl_py.cpu._kernels import blake3
    pattern = bytes(i % 251 for i in range(800 * 1024))
    published = {
        0: "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262",
        1: "2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213",
        1023: "10108970eeda3eb932baac1428c7a2163b0e924c9a9e25b35bba72b28f70bd11",
        1024: "42214739f095a406f3fc83deb889744ac00df831c10daa55189b5d121c855af7",
        1025: "d00278ae47eb27b34faecf67b4fe263f82d5412916c1ffd97c8cb7fb814b8444",
        102400: "bc3e3d41a1146b069abffad3c0d44860cf664390afce4d9661f7902e7943e085"}
    for n, hexdigest in published.items():
        assert blake3(pattern[:n]).hex() == hexdigest, n
        assert _blake3_reference(pattern[:n]).hex() == hexdigest, n  # the reference too
    for n in (64, 65, 2048, 16 * 1024 - 1, 16 * 1024, 17 * 1024 + 3, 33 * 1024 + 5,
              256 * 1024, 256 * 1024 + 1, 768 * 1024 + 1025):
        assert blake3(pattern[:n]) == _blake3_reference(pattern[:n]), n
    assert blake3(memoryview(pattern)[1:1025]) == _blake3_reference(pattern[1:1025])


def test_digest_tree_of_pieces(rng, monkeypatch):
    """The weights' digests (model/hashing.py): BLAKE3 of each 4 MiB piece, then of the
    pieces' digests; the same whatever the number of threads (pieces fixed by offset),
    in the background or not, and different when any one byte changes."""
    from dnnl_py.cpu._kernels import blake3, crc32c

    from dnnl_py.model import hashing

    def reference(b: bytes) -> bytes:
        leaves = [blake3(b[i:i + (1 << 22)]) for i in range(0, max(len(b), 1), 1 << 22)]
        return leaves[0] if len(leaves) == 1 else blake3(
            b"dnnl_py blake3 pieces\0" + b"".join(leaves))

    big = rng.integers(0, 256, (9 << 20) + 5, dtype=np.uint8)  # 3 pieces, the last short
    bufs = [big, rng.standard_normal(1000).astype(np.float32), b"", big[:(4 << 20)]]
    expected = [reference(bytes(memoryview(b).cast("B"))) for b in bufs]
    assert hashing.digest_each(bufs) == expected
    assert hashing.start_digests(bufs, background=True).result() == expected
    monkeypatch.setattr(hashing.os, "cpu_count", lambda: 1)  # the caller alone
    assert hashing.digest_each(bufs) == expected
    for at in (0, (4 << 20) - 1, 4 << 20, big.size - 1):
        changed = big.copy()
        changed[at] ^= 1
        assert hashing.digest_each([changed])[0] != expected[0], at
    # a cache entry's damage check: CRC-32C of each whole buffer, by the same threads
    assert hashing.crc32c_each(bufs) == [
        crc32c(bytes(memoryview(b).cast("B"))).to_bytes(4, "little") for b in bufs]


def test_guessed_entry_is_planned_before_the_digest(tmp_path, small_model, monkeypatch):
    """A model read from a path again: its entry is found from a guess (path, size, inode,
    times) and planned while the weights are still hashed, one lookup, no other."""
    from dnnl_py.model import core as core_module
    config = {"CACHE_DIR": str(tmp_path / "cache")}
    cold = dnnl.Core().compile_model(str(small_model), "CPU", config)
    calls = []
    real = core_module._load

    def load(*args, guessed=False):
        calls.append(guessed)
        return real(*args, guessed=guessed)
    monkeypatch.setattr(core_module, "_load", load)
    warm = dnnl.Core().compile_model(str(small_model), "CPU", config)
    assert warm.get_property("LOADED_FROM_CACHE") and calls == [True]
    x = np.random.default_rng(5).standard_normal((1, 16, 10, 10)).astype(np.float32)
    np.testing.assert_array_equal(warm([x])[0], cold([x])[0])


def test_wrong_guess_is_a_miss_and_keeps_the_entry(tmp_path, small_model, monkeypatch):
    """A guess that names another content's entry (here: a guess made of the path alone,
    as on a file system whose times do not change): the plan made from it is dropped once
    the digest is known, the model compiles, and that entry, not damaged, stays."""
    from dnnl_py.model import cache as entry_format
    from dnnl_py.model import core as core_module

    def path_only(model, device, mode, tuned, threads):
        return entry_format.model_key(hashlib.sha256(model.source.encode()).digest(),
                                      f"guess {device}", mode, tuned, threads)
    monkeypatch.setattr(core_module, "_hint_key", path_only)
    config = {"CACHE_DIR": str(tmp_path / "cache")}
    core = dnnl.Core()
    original = onnx.load(str(small_model))
    core.compile_model(str(small_model), "CPU", config)
    w = numpy_helper.to_array(original.graph.initializer[0]).copy()
    w.flat[0] += 1.0
    changed = onnx.load(str(small_model))
    changed.graph.initializer[0].CopyFrom(numpy_helper.from_array(w, "We"))
    onnx.save_model(changed, str(small_model))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # nothing is damaged
        again = core.compile_model(str(small_model), "CPU", config)
    assert not again.get_property("LOADED_FROM_CACHE")
    x = np.random.default_rng(6).standard_normal((1, 16, 10, 10)).astype(np.float32)
    _check(again([x])[0], onnx_reference.run(changed, {"x": x})[0])
    onnx.save_model(original, str(small_model))  # the first entry is still there
    assert core.compile_model(str(small_model), "CPU", config).get_property(
        "LOADED_FROM_CACHE")


def test_concurrent_compiles(tmp_path, small_model):
    cache = tmp_path / "cache"
    env = dict(os.environ, PYTHONPATH=ROOT)
    procs = [subprocess.Popen([sys.executable, "-c", _CHILD, str(small_model), str(cache), "0",
                               "OPTIMIZE_SPEED", str(tmp_path / f"p{i}.npy")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env) for i in range(4)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    outs = [np.load(tmp_path / f"p{i}.npy") for i in range(4)]
    for o in outs[1:]:
        np.testing.assert_array_equal(o, outs[0])
    # one entry, and one guess for the path (core._hint_key), whoever wrote them last
    assert len([f for f in cache.iterdir() if not f.name.startswith(".tmp")]) == 2
    loaded, warm, _ = _child(tmp_path, small_model, cache, True)
    assert loaded
    np.testing.assert_array_equal(warm, outs[0])


def test_ocl_engine(ocl, rng, tmp_path):
    """GPU = the OpenCL engine, same API (here any OpenCL device, given as an engine);
    its cache entry holds the program binaries."""
    eng, _ = ocl
    config = {"CACHE_DIR": str(tmp_path)}
    for name in ("residual", "attention"):
        model = MODELS[name](rng)
        x = _input(model, rng)
        compiled = dnnl.Core().compile_model(model, eng, config)
        got = compiled([x])[0]
        _check(got, onnx_reference.run(model, {"x": x})[0], tol=1e-3)
        warm = dnnl.Core().compile_model(model, eng, config)
        assert warm.get_property("LOADED_FROM_CACHE")
        np.testing.assert_array_equal(warm([x])[0], got)


def test_import_without_onnx():
    """dnnl_py and its model layer import without the onnx package."""
    code = ("import sys; sys.modules['onnx'] = None; import dnnl_py as d; "
            "d.Core(); print('ok')")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=ROOT), timeout=120)
    assert res.stdout.strip() == "ok", res.stderr


def test_run_loop_executes_each_step_once_with_verbose(small_model, capsys):
    """The run loop calls each step's execute bound to its memories once at compile time
    (primitive._bind): an inference gives the same output twice and, with verbose on,
    one exec line per step, in plan order."""
    compiled = dnnl.Core().compile_model(str(small_model), "CPU")
    x = np.random.default_rng(3).standard_normal(compiled.inputs[0].shape).astype(np.float32)
    first = compiled([x])[0].copy()
    dnnl.set_verbose(1)
    try:
        again = compiled([x])[0]
    finally:
        dnnl.set_verbose(0)
    np.testing.assert_array_equal(first, again)
    lines = [line.split(",") for line in capsys.readouterr().out.splitlines()
             if line.startswith("onednn_verbose,") and ",exec," in line]
    plan = compiled._plan  # the inputs' copies first, then the steps
    assert len(lines) == len(plan.inputs) + len(plan.steps), lines
    assert [line[6] for line in lines[len(plan.inputs):]] == [
        prim.get_primitive_desc().impl_info_str() for prim, _ in plan.steps]
