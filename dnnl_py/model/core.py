"""Core, CompiledModel, InferRequest: OpenVINO's Python API over the planner, with
properties as strings. The model cache (CACHE_DIR) is looked up before planning and
written after a cold compile; see docs/models.md."""
from __future__ import annotations

import hashlib
import os
import threading
import warnings
from typing import Optional

import numpy as np

from .._errors import error, invalid
from ..engine import engine, stream
from ..memory import memory
from . import cache as entry_format
from .compile import Builder, Plan, Stale, cpu_tuning, plan
from .read import Model, Port, _port, read_model

_DEVICES = {"CPU": engine.kind.cpu, "GPU": engine.kind.gpu}
_MODES = {"OPTIMIZE_SPEED": entry_format.SPEED, "OPTIMIZE_SIZE": entry_format.SIZE}
_SETTABLE = ("CACHE_DIR", "CACHE_MODE", "TUNING", "CACHE_ENCRYPTION_CALLBACKS",
             "CACHE_MAX_BYTES")
_READ_ONLY = ("AVAILABLE_DEVICES", "OPTIMIZATION_CAPABILITIES", "SUPPORTED_PROPERTIES",
              "FULL_DEVICE_NAME")
_DEFAULTS = {"CACHE_DIR": "", "CACHE_MODE": "OPTIMIZE_SPEED", "TUNING": "OFF",
             "CACHE_ENCRYPTION_CALLBACKS": None, "CACHE_MAX_BYTES": None}
# tuning is process-wide while a compile runs; compiles of one process take turns
_COMPILE_LOCK = threading.Lock()


def _check_property(name: str, value):
    """The property's value in canonical form; invalid_arguments naming it otherwise."""
    if name not in _SETTABLE:
        raise invalid(f"property {name!r}: unknown or read-only (settable: "
                      f"{', '.join(_SETTABLE)})")
    if name == "CACHE_DIR":
        if value is None:
            return ""
        if not isinstance(value, (str, os.PathLike)):
            raise invalid(f"CACHE_DIR: expected a path, got {type(value).__name__}")
        return os.fspath(value)
    if name == "CACHE_MODE":
        if value not in _MODES:
            raise invalid(f"CACHE_MODE: {value!r} (expected OPTIMIZE_SPEED or OPTIMIZE_SIZE)")
        return value
    if name == "TUNING":
        if value in (True, "ON", "YES"):
            return "ON"
        if value in (False, "OFF", "NO"):
            return "OFF"
        raise invalid(f"TUNING: {value!r} (expected 'ON' or 'OFF')")
    if name == "CACHE_MAX_BYTES":
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 0):
            raise invalid(f"CACHE_MAX_BYTES: {value!r} (expected a byte count)")
        return value
    if value is not None and (not isinstance(value, (list, tuple)) or len(value) != 2
                              or not all(callable(f) for f in value)):
        raise invalid("CACHE_ENCRYPTION_CALLBACKS: expected [encrypt, decrypt], two "
                      "callables bytes -> bytes")
    return None if value is None else tuple(value)


def _device(name) -> engine.kind:
    if name not in _DEVICES:
        raise invalid(f"device {name!r}: expected one of {list(_DEVICES)}")
    return _DEVICES[name]


class Core:
    """ov::Core: devices, properties, read_model and compile_model."""

    def __init__(self):
        self._props: dict = {None: {}}  # device (None: every device) -> properties

    def get_available_devices(self) -> list:
        found = ["CPU"]
        try:
            if engine.get_count(engine.kind.gpu):
                found.append("GPU")
        except Exception:  # noqa: BLE001 - no OpenCL runtime at all: no GPU
            pass
        return found

    @property
    def available_devices(self) -> list:
        return self.get_available_devices()

    def set_property(self, device_or_props, props: Optional[dict] = None) -> None:
        """set_property({...}) for every device, or set_property("CPU", {...})."""
        if props is None:
            device, props = None, device_or_props
        else:
            device = device_or_props
            _device(device)
        if not isinstance(props, dict):
            raise invalid(f"set_property: expected a dict of properties, got "
                          f"{type(props).__name__}")
        checked = {k: _check_property(k, v) for k, v in props.items()}
        self._props.setdefault(device, {}).update(checked)

    def get_property(self, device: str, name: str):
        _device(device)
        if name == "AVAILABLE_DEVICES":
            return self.get_available_devices()
        if name == "OPTIMIZATION_CAPABILITIES":
            return ["FP32", "EXPORT_IMPORT"]
        if name == "SUPPORTED_PROPERTIES":
            return list(_SETTABLE + _READ_ONLY)
        if name == "FULL_DEVICE_NAME":
            return engine(_DEVICES[device], 0)._runtime.device_id()
        if name not in _SETTABLE:
            raise _unknown(name)
        return self._settings(device, {})[name]

    def _settings(self, device: str, config: dict) -> dict:
        out = dict(_DEFAULTS)
        out.update(self._props[None])
        out.update(self._props.get(device, {}))
        out.update({k: _check_property(k, v) for k, v in (config or {}).items()})
        return out

    def read_model(self, model, weights=None) -> Model:
        """ov::Core::read_model: an ONNX path, bytes or onnx.ModelProto."""
        return read_model(model, weights)

    def compile_model(self, model, device_name="CPU",
                      config: Optional[dict] = None) -> "CompiledModel":
        """ov::Core::compile_model: a Model, or anything read_model takes, on "CPU",
        "GPU" (the OpenCL engine) or, dnnl_py's addition, any dnnl.engine (e.g. one of
        dnnl.ocl_interop.make_engine)."""
        if isinstance(device_name, engine):
            eng = device_name
            device_name = "CPU" if eng.get_kind() == engine.kind.cpu else "GPU"
        else:
            eng = engine(_device(device_name), 0)
        if config is not None and not isinstance(config, dict):
            raise invalid(f"compile_model: config must be a dict, got {type(config).__name__}")
        settings = self._settings(device_name, config or {})
        model = read_model(model)
        strm = stream(eng)
        with _COMPILE_LOCK:
            p, loaded = _compile(model, eng, strm, settings)
        return CompiledModel(model, p, loaded, settings, device_name)


def _unknown(name: str) -> error:
    return invalid(f"property {name!r}: unknown (supported: "
                  f"{', '.join(_SETTABLE + _READ_ONLY)}, LOADED_FROM_CACHE on a compiled "
                  "model)")


_WARNED: set = set()


def _compile(model: Model, eng: engine, strm: stream, settings: dict) -> tuple:
    """(plan, loaded from the cache). An untuned compile is also served by a tuned entry
    (FFTW's wisdom rule: a more thorough plan serves a less thorough request); a tuned
    compile never by an untuned one."""
    mode = _MODES[settings["CACHE_MODE"]]
    tuned = settings["TUNING"] == "ON" and eng.get_kind() == engine.kind.cpu
    if not settings["CACHE_DIR"]:
        with cpu_tuning(tuned):
            return plan(model, eng, strm, Builder(eng, strm)), False
    from ..cache import blob_store, value_offset
    callbacks = settings["CACHE_ENCRYPTION_CALLBACKS"] or (None, None)
    store = blob_store(settings["CACHE_DIR"], max_bytes=settings["CACHE_MAX_BYTES"],
                       encrypt=callbacks[0], decrypt=callbacks[1])
    runtime = eng._runtime
    device = f"{eng.get_kind().name} {runtime.device_id()}"

    def key(with_tuning: bool) -> bytes:  # waits for the model's digest
        return entry_format.model_key(model.digest, device, mode, with_tuning,
                                      runtime.threads())

    tunable = eng.get_kind() == engine.kind.cpu
    # a tuned entry's blobs serve an untuned compile too (primitive_blob.read)
    usable = (True,) if tuned else (True, False) if tunable else (False,)
    hint = _hint_key(model, device, mode, tuned, runtime.threads())
    guess = store.get(hint) if hint is not None else None
    with cpu_tuning(tuned):
        if guess is not None and len(guess) == 32:
            # the entry this file's content had last time: its plan is made while the
            # model's weights are still being hashed, and kept only if the digest, once
            # known, names that very entry (never path + mtime: content decides)
            p = _load(model, eng, strm, store, guess, mode, guessed=True)
            if p is not None and guess in [key(t) for t in usable]:
                return p, True
        for entry_tuned in usable:
            p = _load(model, eng, strm, store, key(entry_tuned), mode)
            if p is not None:
                if hint is not None:
                    store.put(hint, key(entry_tuned))
                return p, True
        builder = Builder(eng, strm, record=True)
        p = plan(model, eng, strm, builder)
    entry = entry_format.Entry(mode, model.digest, builder.blobs,
                               builder.weights if mode == entry_format.SPEED else None)
    store.put(key(tuned), entry_format.pack(entry, value_offset(key(tuned))))
    if hint is not None:
        store.put(hint, key(tuned))
    return p, False


def _hint_key(model: Model, device: str, mode: int, tuned: bool, threads: int):
    """The store key of a guess: which entry a model file read from this path, with this
    size, inode and modification time, had last time (None for a model not read from a
    file). Only a guess: the entry is used once the content digest says it is the one."""
    if not model.source:
        return None
    try:
        st = os.stat(model.source)
    except OSError:
        return None
    where = (f"{os.path.abspath(model.source)}\0{st.st_dev} {st.st_ino} {st.st_size} "
             f"{st.st_mtime_ns} {st.st_ctime_ns}")
    return entry_format.model_key(hashlib.sha256(where.encode()).digest(),
                                  f"guess\0{device}", mode, tuned, threads)


def _load(model: Model, eng: engine, strm: stream, store, key: bytes, mode: int,
          guessed: bool = False):
    """The plan from the entry under key, or None (absent; unusable: dropped). guessed:
    the key is a guess (_hint_key), so the plan is made before the model's digest is
    known, and an entry of other content is not damaged, only not this model's."""
    value = store.get_mapped(key, checksum=False)  # the entry checks itself
    if value is None:
        return None
    entry = None
    try:
        entry = entry_format.unpack(value)
        if entry.mode != mode or (not guessed and entry.digest != model.digest):
            raise Stale("the entry was made for other weights or another mode")
        p = plan(model, eng, strm, Builder(eng, strm, entry))
    except Exception as e:
        if guessed and entry is not None and entry.digest != model.digest:
            return None  # another content's entry, whatever planning made of it
        if not isinstance(e, (Stale, ValueError, error)):
            raise
        _warn_once(f"model cache entry in {store.path} unusable ({e}); compiling again "
                   "and rewriting it")
        store.discard(key, str(e))
        return None
    return p if entry.digest == model.digest else None


def _warn_once(message: str) -> None:
    if message not in _WARNED:
        _WARNED.add(message)
        warnings.warn(f"dnnl_py: {message}", RuntimeWarning, stacklevel=4)


class Tensor:
    """ov::Tensor: .data (numpy) and .shape."""

    def __init__(self, data: np.ndarray):
        self.data = data

    @property
    def shape(self) -> list:
        return list(self.data.shape)

    def get_shape(self) -> list:
        return self.shape


class Results(dict):
    """Results by output name, and by index or Port as OpenVINO's OVDict."""

    def __init__(self, ports: list, arrays: list):
        super().__init__(zip((p.name for p in ports), arrays))
        self._ports = ports

    def __getitem__(self, key):
        if isinstance(key, Port):
            key = key.name
        if isinstance(key, int) and not isinstance(key, bool):
            key = _port(self._ports, key).name
        return super().__getitem__(key)

    def to_tuple(self) -> tuple:
        return tuple(self[p.name] for p in self._ports)


class CompiledModel:
    """ov::CompiledModel: the plan, callable on inputs."""

    def __init__(self, model: Model, p: Plan, loaded: bool, settings: dict, device: str):
        self._model, self._plan, self._loaded = model, p, loaded
        self._settings, self._device = settings, device
        self._lock = threading.Lock()  # one arena: requests of one model take turns
        self._request: Optional[InferRequest] = None

    @property
    def inputs(self) -> list:
        return list(self._model.inputs)

    @property
    def outputs(self) -> list:
        return list(self._model.outputs)

    def input(self, key=0) -> Port:
        return self._model.input(key)

    def output(self, key=0) -> Port:
        return self._model.output(key)

    def get_property(self, name: str):
        if name == "LOADED_FROM_CACHE":
            return self._loaded
        if name == "DEVICE":
            return self._device
        if name == "ARENA_BYTES":
            return self._plan.arena_bytes
        if name in self._settings:
            return self._settings[name]
        raise _unknown(name)

    def create_infer_request(self) -> "InferRequest":
        return InferRequest(self)

    def __call__(self, inputs) -> Results:
        if self._request is None:
            self._request = self.create_infer_request()
        return self._request.infer(inputs)

    def _run(self, arrays: list) -> list:
        p = self._plan
        with self._lock:
            for (_, mem, copy), x in zip(p.inputs, arrays):
                copy.execute(p.strm, memory(mem.get_desc(), p.eng, x), mem)
            for run in p.runs:
                run()
            p.strm.wait()
            return [m.to_numpy() if isinstance(m, memory) else m.copy()
                    for _, m in p.outputs]


class InferRequest:
    """ov::InferRequest."""

    def __init__(self, compiled: CompiledModel):
        self._compiled = compiled
        self._inputs: list = [None] * len(compiled.inputs)
        self._outputs: Optional[Results] = None

    def infer(self, inputs=None) -> Results:
        if inputs is not None:
            self._set_inputs(inputs)
        missing = [p.name for p, x in zip(self._compiled.inputs, self._inputs) if x is None]
        if missing:
            raise invalid(f"infer: no value for input(s) {missing}")
        arrays = self._compiled._run(self._inputs)
        self._outputs = Results(self._compiled.outputs, arrays)
        return self._outputs

    def _set_inputs(self, inputs) -> None:
        ports = self._compiled.inputs
        if isinstance(inputs, dict):
            items = list(inputs.items())
        elif isinstance(inputs, (list, tuple)):
            if len(inputs) != len(ports):
                raise invalid(f"infer: {len(inputs)} inputs given, the model has {len(ports)}")
            items = list(enumerate(inputs))
        elif isinstance(inputs, np.ndarray) and len(ports) == 1:
            items = [(0, inputs)]
        else:
            raise invalid(f"infer: inputs must be a dict, a list or an array, got "
                          f"{type(inputs).__name__}")
        for key, x in items:
            port = _port(ports, key.name if isinstance(key, Port) else key)
            self.set_input_tensor(ports.index(port), x)

    def set_input_tensor(self, index: int, x) -> None:
        port = _port(self._compiled.inputs, index)
        data = x.data if isinstance(x, Tensor) else x
        try:
            arr = np.ascontiguousarray(data, np.float32)
        except (TypeError, ValueError) as e:
            raise invalid(f"input {port.name!r}: not a float array ({e})") from None
        if arr.shape != port.shape:
            raise invalid(f"input {port.name!r}: shape {list(arr.shape)}, the model takes "
                          f"{list(port.shape)}")
        self._inputs[self._compiled.inputs.index(port)] = arr

    def get_input_tensor(self, index: int = 0) -> Tensor:
        port = _port(self._compiled.inputs, index)
        return Tensor(self._inputs[self._compiled.inputs.index(port)])

    def get_output_tensor(self, index: int = 0) -> Tensor:
        if self._outputs is None:
            raise invalid("get_output_tensor: infer() has not run")
        return Tensor(self._outputs[index])

    def get_tensor(self, name) -> Tensor:
        names = [p.name for p in self._compiled.outputs]
        if (name.name if isinstance(name, Port) else name) in names:
            return self.get_output_tensor(names.index(getattr(name, "name", name)))
        return self.get_input_tensor(getattr(name, "name", name))

    @property
    def results(self) -> Results:
        if self._outputs is None:
            raise invalid("results: infer() has not run")
        return self._outputs


__all__ = ["Core", "CompiledModel", "InferRequest", "Tensor", "Results"]
