"""read_model: an ONNX file (or bytes, or an onnx.ModelProto) -> a `Model`: a small graph
IR with static shapes, in which every value computable at read time (Constant nodes,
shape sub-graphs: Shape -> Gather -> Concat -> Reshape, ...) is already a constant.

The model's content digest (the cache key's part, docs/models.md) is computed here, over
the parsed content (graph, attributes, every weight's bytes, external data included),
so a path and the same model passed as an object are one cache entry. The weights are
hashed on worker threads that are still running when read_model returns: the digest is
ready when `Model.digest` is first asked for (a compile from the cache builds its plan
meanwhile: core.py).
"""
from __future__ import annotations

import hashlib
import mmap
import os
import threading
from typing import Callable, Optional

import numpy as np

from .._errors import error, invalid, unimplemented
from ..record import field, record
from . import onnx_proto as pb
from .hashing import start_digests
from .shapes import DTYPES as _DTYPES
from .shapes import FOLD, SHAPE


@record(frozen=True)
class Port:
    """A model input or output: name, static shape, numpy dtype (OpenVINO's Output)."""
    name: str
    shape: tuple
    dtype: np.dtype

    def get_any_name(self) -> str:
        return self.name

    def get_shape(self) -> list:
        return list(self.shape)


@record
class Node:
    """One ONNX node: its op type, inputs, outputs and attributes."""
    name: str
    op: str
    inputs: list      # value names; '' for an absent optional input
    outputs: list
    attrs: dict = field(default_factory=dict)


@record
class Model:
    """What read_model returns: ports, the nodes left after folding (in topological
    order), constants, each value's (shape, dtype), and the content digest."""
    inputs: list
    outputs: list
    nodes: list
    consts: dict      # name -> np.ndarray (weights, folded values)
    values: dict      # name -> (shape, dtype) of every value
    pending_digest: Callable[[], bytes]  # waits for the digest's hashing threads
    source: str = ""  # the path it was read from, for messages and the cache's guess

    @property
    def digest(self) -> bytes:
        """sha256 of the parsed content, the weights' BLAKE3 trees included."""
        return self.pending_digest()

    def input(self, i=0) -> Port:
        return _port(self.inputs, i)

    def output(self, i=0) -> Port:
        return _port(self.outputs, i)


def _port(ports: list, key) -> Port:
    if isinstance(key, str):
        for p in ports:
            if p.name == key:
                return p
        raise invalid(f"no port named {key!r}; the model has {[p.name for p in ports]}")
    if not isinstance(key, int) or not -len(ports) <= key < len(ports):
        raise invalid(f"port index {key!r} out of range ({len(ports)} ports)")
    return ports[key]


def read_model(model, weights=None) -> Model:
    """Core.read_model(model): a path to an .onnx file, its bytes, or an onnx.ModelProto.
    `weights` (a directory) is where external data lives when not beside the file."""
    if isinstance(model, Model):
        return model
    base = None if weights is None else os.fspath(weights)
    source = ""
    if isinstance(model, (str, os.PathLike)):
        source = os.fspath(model)
        try:
            with open(source, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                data = memoryview(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
                                  if size else b"")
        except OSError as e:
            raise invalid(f"read_model: cannot read {source!r}: {e}") from None
        base = base or os.path.dirname(os.path.abspath(source))
    elif isinstance(model, (bytes, bytearray, memoryview)):
        data = memoryview(model).cast("B")
    elif callable(getattr(model, "SerializeToString", None)):  # an onnx.ModelProto
        data = memoryview(model.SerializeToString())
    else:
        raise invalid(f"read_model: expected a path, bytes or an onnx.ModelProto, got "
                      f"{type(model).__name__}")
    try:
        return _Reader(data, base or os.getcwd(), source).model()
    except error:
        raise
    except (ValueError, TypeError, OverflowError, IndexError, KeyError) as e:
        # numpy refusing a tensor's bytes, a shape that does not fit: a malformed file
        raise invalid(f"read_model: malformed ONNX model{f' {source!r}' if source else ''}:"
                      f" {e}") from None


class _Reader:
    def __init__(self, data: memoryview, base: str, source: str):
        self.data, self.base, self.source = data, base, source
        self.digest = hashlib.sha256(b"dnnl_py model 3\0")
        self.external: dict = {}  # path -> memoryview of its mmap

    def model(self) -> Model:
        graph, opsets, ir = None, {}, 0
        for num, wire, v in pb.fields(self.data):
            if num == 1:
                ir = pb.signed(wire, v)
            elif num == 7:
                graph = pb.message(wire, v, "graph")
            elif num == 8:
                domain, version = "", 0
                for n2, w2, v2 in pb.fields(pb.message(wire, v, "opset_import")):
                    if n2 == 1:
                        domain = pb.text(v2)
                    elif n2 == 2:
                        version = pb.signed(w2, v2)
                opsets[domain] = version
        if graph is None:
            raise invalid("read_model: not an ONNX model (no graph)" + self._where())
        if ir < 3:  # before IR 3 there were no opset imports
            raise unimplemented(f"read_model: IR version {ir} (3 or later)")
        self.digest.update(repr(sorted(opsets.items())).encode())
        return self._graph(graph, opsets.get("", opsets.get("ai.onnx", 0)))

    def _where(self) -> str:
        return f" in {self.source!r}" if self.source else ""

    def _graph(self, g: memoryview, opset: int) -> Model:
        nodes, inputs, outputs, consts = [], [], [], {}
        for num, wire, v in pb.fields(g):
            if num == 1:
                nodes.append(self._node(pb.message(wire, v, "node")))
            elif num == 5:
                name, arr = self._tensor(pb.message(wire, v, "initializer"))
                consts[name] = arr
            elif num == 11:
                inputs.append(self._value_info(pb.message(wire, v, "input")))
            elif num == 12:
                outputs.append(self._value_info(pb.message(wire, v, "output")))
            elif num == 15:
                raise unimplemented("read_model: sparse initializers")
        arrays = []  # (name, array) whose bytes the digest covers, in a fixed order
        for n in nodes:
            attrs = sorted(n.attrs.items())
            self.digest.update(repr((n.op, n.inputs, n.outputs, [
                (k, ("tensor", a.dtype.str, a.shape) if isinstance(a, np.ndarray) else a)
                for k, a in attrs])).encode())
            arrays += [(k, a) for k, a in attrs if isinstance(a, np.ndarray)]  # Constant
        arrays += [(name, consts[name]) for name in sorted(consts)]
        graph_inputs = [p for p in inputs if p[0] not in consts]
        ports = repr([(p[0], p[1], p[2]) for p in graph_inputs + outputs]).encode()
        weights = start_digests([a for _, a in arrays], background=True)
        h, done, lock = self.digest, [], threading.Lock()

        def digest() -> bytes:
            with lock:
                if not done:  # the first caller waits for the threads, finishes the hash
                    for (name, a), d in zip(arrays, weights.result()):
                        h.update(f"{name}\0{a.dtype.str}\0{a.shape}\0".encode() + d)
                    h.update(ports)
                    done.append(h.digest())
            return done[0]
        return _fold(nodes, graph_inputs, outputs, consts, opset, digest, self.source)

    def _node(self, m: memoryview) -> Node:
        name, op, domain, ins, outs, attrs = "", "", "", [], [], {}
        for num, wire, v in pb.fields(m):
            if num == 1:
                ins.append(pb.text(v))
            elif num == 2:
                outs.append(pb.text(v))
            elif num == 3:
                name = pb.text(v)
            elif num == 4:
                op = pb.text(v)
            elif num == 5:
                k, a = self._attribute(pb.message(wire, v, "attribute"))
                attrs[k] = a
            elif num == 7:
                domain = pb.text(v)
        if domain not in ("", "ai.onnx"):
            op = f"{domain}.{op}"
        return Node(name or (outs[0] if outs else op), op, ins, outs, attrs)

    def _attribute(self, m: memoryview):
        name, value, ints, floats, strings = "", None, [], [], []
        for num, wire, v in pb.fields(m):
            if num == 1:
                name = pb.text(v)
            elif num == 2:
                value = pb.as_float(wire, v)
            elif num == 3:
                value = pb.signed(wire, v)
            elif num == 4:
                value = pb.text(v)
            elif num == 5:
                value = self._tensor(pb.message(wire, v, "attribute tensor"))[1]
            elif num == 6:
                value = "<graph>"  # If/Loop bodies: those ops are refused at compile
            elif num == 7:
                floats += pb.packed_floats(wire, v)
            elif num == 8:
                ints += pb.packed_ints(wire, v)
            elif num == 9:
                strings.append(pb.text(v))
        if value is None:
            value = ints or floats or strings
        return name, value

    def _value_info(self, m: memoryview) -> tuple:
        name, elem, dims = "", 0, None
        for num, wire, v in pb.fields(m):
            if num == 1:
                name = pb.text(v)
            elif num == 2:
                for n2, w2, v2 in pb.fields(pb.message(wire, v, "type")):
                    if n2 != 1:
                        continue
                    for n3, w3, v3 in pb.fields(pb.message(w2, v2, "tensor type")):
                        if n3 == 1:
                            elem = pb.signed(w3, v3)
                        elif n3 == 2:
                            dims = []
                            for n4, w4, v4 in pb.fields(pb.message(w3, v3, "shape")):
                                if n4 == 1:
                                    dims.append(self._dim(pb.message(w4, v4, "dim")))
        return name, None if dims is None else tuple(dims), elem

    @staticmethod
    def _dim(m: memoryview):
        for num, wire, v in pb.fields(m):
            if num == 1:
                return pb.signed(wire, v)
            if num == 2:
                return pb.text(v)
        return "?"

    def _tensor(self, m: memoryview) -> tuple:
        dims, dt, name, raw, external, location = [], 1, "", None, {}, 0
        lists: dict = {}
        for num, wire, v in pb.fields(m):
            if num == 1:
                dims += pb.packed_ints(wire, v)
            elif num == 2:
                dt = pb.signed(wire, v)
            elif num == 4:
                lists.setdefault("f", []).extend(pb.packed_floats(wire, v))
            elif num in (5, 7, 11):
                lists.setdefault("i", []).extend(pb.packed_ints(wire, v))
            elif num == 8:
                name = pb.text(v)
            elif num == 9:
                raw = v
            elif num == 10:
                if wire == 2 and len(v) % 8 == 0:
                    lists.setdefault("d", []).extend(
                        np.frombuffer(v, "<f8").tolist())
                else:
                    raise invalid(f"ONNX file: tensor {name!r}: malformed double_data")
            elif num == 13:
                k = val = ""
                for n2, _w2, v2 in pb.fields(pb.message(wire, v, "external_data")):
                    if n2 == 1:
                        k = pb.text(v2)
                    elif n2 == 2:
                        val = pb.text(v2)
                external[k] = val
            elif num == 14:
                location = pb.signed(wire, v)
        if dt not in _DTYPES:
            raise unimplemented(f"read_model: tensor {name!r}: ONNX data type {dt}")
        dtype = np.dtype(_DTYPES[dt]).newbyteorder("<")
        if any(d < 0 for d in dims):
            raise invalid(f"ONNX file: tensor {name!r}: negative dims {dims}")
        count = int(np.prod(dims, dtype=np.int64)) if dims else 1
        if location == 1:
            raw = self._external(name, external)
        if raw is not None:
            if len(raw) != count * dtype.itemsize:
                raise invalid(f"ONNX file: tensor {name!r}: {len(raw)} bytes of data for dims "
                              f"{dims} of {dtype.name}" + self._where())
            arr = np.frombuffer(raw, dtype).reshape(dims)
        else:
            values = next(iter(lists.values()), [])
            if len(values) != count:
                raise invalid(f"ONNX file: tensor {name!r}: {len(values)} values for dims "
                              f"{dims}" + self._where())
            if dt == 10:  # float16 travels as its bit patterns in int32_data
                arr = np.array(values, np.uint16).view(np.float16).reshape(dims)
            else:
                arr = np.array(values, dtype).reshape(dims)
        return name, arr

    def _external(self, name: str, info: dict) -> memoryview:
        loc = info.get("location", "")
        path = os.path.normpath(os.path.join(self.base, loc))
        if not loc or os.path.isabs(loc) or not path.startswith(os.path.normpath(self.base)):
            raise invalid(f"ONNX file: tensor {name!r}: external data location {loc!r} is "
                          "not a file beside the model")
        if path not in self.external:
            try:
                with open(path, "rb") as f:
                    size = os.fstat(f.fileno()).st_size
                    self.external[path] = memoryview(
                        mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else b"")
            except OSError as e:
                raise invalid(f"read_model: tensor {name!r}: cannot read external data "
                              f"{path!r}: {e}") from None
        buf = self.external[path]
        try:
            offset = int(info.get("offset", 0))
            length = int(info.get("length", len(buf) - offset))
        except ValueError:
            raise invalid(f"ONNX file: tensor {name!r}: bad external data offset or "
                          "length") from None
        if offset < 0 or length < 0 or offset + length > len(buf):
            raise invalid(f"ONNX file: tensor {name!r}: external data [{offset}, "
                          f"{offset + length}) is outside {path!r} ({len(buf)} bytes)")
        return buf[offset:offset + length]


def _fold(nodes, inputs, outputs, consts, opset, digest, source) -> Model:
    """Shapes of every value, and every node whose inputs are all known at read time
    evaluated now (shape sub-graphs, Constant nodes)."""
    values: dict = {n: (a.shape, a.dtype) for n, a in consts.items()}
    ports = []
    for name, dims, elem in inputs:
        if elem not in _DTYPES:
            raise unimplemented(f"input {name!r}: ONNX data type {elem}")
        if dims is None or any(not isinstance(d, int) or d < 0 for d in dims):
            raise unimplemented(f"input {name!r}: shape {dims} is dynamic; the model layer "
                                "compiles static shapes only")
        values[name] = (tuple(dims), np.dtype(_DTYPES[elem]))
        ports.append(Port(name, tuple(dims), np.dtype(_DTYPES[elem])))
    alias: dict = {}  # Identity / Dropout outputs -> the value they pass on
    kept = []
    for node in nodes:
        node.inputs = [alias.get(i, i) for i in node.inputs]
        for i in node.inputs:
            if i and i not in values:
                raise invalid(f"node {node.name!r} ({node.op}): input {i!r} is not produced "
                              "by any earlier node (the graph is not in topological order, "
                              "or refers to a missing value)")
        if node.op not in SHAPE:
            raise unimplemented(f"node {node.name!r} (op {node.op}): not supported by the "
                                "model layer")
        if node.op in ("Identity", "Dropout") and node.inputs and node.inputs[0] not in consts:
            alias[node.outputs[0]] = node.inputs[0]
            values[node.outputs[0]] = values[node.inputs[0]]
            continue
        ins = [(values[i] if i else None) for i in node.inputs]
        known = [consts.get(i) if i else None for i in node.inputs]
        fold = FOLD.get(node.op)
        if fold is not None and all(k is not None for i, k in zip(node.inputs, known) if i):
            results = fold(node, known)
        elif node.op == "Shape":
            results = [_shape_of(node, ins[0][0])]
        else:
            results = None
        if results is not None:
            for name, arr in zip(node.outputs, results):
                consts[name] = arr
                values[name] = (arr.shape, arr.dtype)
            continue
        if SHAPE[node.op] is None:
            raise unimplemented(f"node {node.name!r} (op {node.op}): supported only on values "
                                "known at read time (shape sub-graphs); its input is "
                                "computed at run time")
        for name, (shape, dtype) in zip(node.outputs, SHAPE[node.op](node, ins, known)):
            values[name] = (tuple(int(d) for d in shape), np.dtype(dtype))
        kept.append(node)
    out_ports = []
    for name, _dims, _elem in outputs:
        name = alias.get(name, name)
        if name not in values:
            raise invalid(f"output {name!r} is not produced by any node")
        shape, dtype = values[name]
        out_ports.append(Port(name, shape, dtype))
    return Model(ports, out_ports, kept, consts, values, digest, source)


def _shape_of(node: Node, shape: tuple) -> np.ndarray:
    start, end = node.attrs.get("start", 0), node.attrs.get("end", None)
    return np.array(shape, np.int64)[slice(start, end)]


def describe(model: Model) -> Optional[str]:
    """One line per port, for benchmark_app."""
    return "\n".join(f"  {kind} {p.name}: {list(p.shape)} {p.dtype}"
                     for kind, ports in (("input", model.inputs), ("output", model.outputs))
                     for p in ports)
