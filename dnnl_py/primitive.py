"""What every primitive kind shares: the primitive descriptor walks the engine's
ordered implementation list for the problem; the primitive builds the chosen
implementation's kernel once and checks every execute() argument against it."""
from __future__ import annotations

import copy
import functools
import time
from typing import Mapping, Optional

from . import primitive_blob, tuning, verbose
from ._errors import error, invalid, status, unimplemented
from .attr import primitive_attr, resolve
from .blob_id import blob_id, primitive_identity
from .cache_key import call_key, primitive_key, problem_key
from .engine import engine, stream
from .impl import Decline, Impl
from .kinds import ARG_BIAS, ARG_DST, ARG_SRC, ARG_WEIGHTS, arg_name, primitive_kind
from .memory import memory
from .memory_desc import desc
from .primitive_cache import CACHE
from .store import active_store

_CHOSEN: dict = {}  # (kind, problem key, post-ops, engine, list) -> (impl, args, key)
_CHOSEN_MAX = 4096
_VALIDATED: dict = {}  # (make_problem, call_key(arguments)) -> its problem
_VALIDATED_MAX = 4096


def validated(make_problem, *args):
    """make_problem(*args), a kind's validation of a descriptor's arguments, memoized
    on the arguments (cache_key.call_key): a repeated descriptor skips the checks that
    its arguments, equal to ones that passed them, would pass again, and gets the same
    problem object back (whose key is then computed once). Only problems that passed are
    kept; arguments that cannot be keyed are validated every time."""
    try:
        memo = (make_problem, call_key(args))
        problem = _VALIDATED.get(memo)
    except TypeError:  # unhashable: a numpy array as strides, say
        return make_problem(*args)
    if problem is None:
        problem = make_problem(*args)
        if len(_VALIDATED) >= _VALIDATED_MAX:
            _VALIDATED.clear()
        _VALIDATED[memo] = problem
    return problem


class primitive_desc:
    """dnnl::primitive_desc: the problem, its attributes and the engine, with the first
    implementation in the engine's list that accepts them."""
    kind = primitive_kind.undef
    _arg_order: tuple = ()  # the kernel's positional arguments, by DNNL_ARG_*
    _persistent = True  # creation costs more than reading a blob from the cache directory
    _binary_post_ops = False  # whether the kind's implementations fuse binary post-ops
    _verbose_names = {ARG_SRC: "src", ARG_WEIGHTS: "wei", ARG_BIAS: "bia", ARG_DST: "dst"}

    def __init__(self, aengine: engine, problem, attr: Optional[primitive_attr]):
        if not isinstance(aengine, engine):
            raise invalid(f"{self.kind.name}: expected an engine, got {type(aengine).__name__}")
        self._engine, self._problem, self._attr = aengine, problem, resolve(attr)
        runtime, po_key = aengine._runtime, self._attr._post_ops.key()
        # a binary post-op's src1 comes after the kind's own arguments, in post-op order
        arg_order = self._arg_order + self._check_binary_post_ops(problem)
        impls = tuple(runtime.impls(self.kind))
        # A repeated descriptor (oneDNN's idiom: rebuilt for every creation) reuses the
        # walk's result: the list is walked in Python, ~100 us a problem.
        walk = (self.kind, problem_key(problem), po_key, aengine._cache_key(), impls)
        chosen = _CHOSEN.get(walk)
        if chosen is None:
            impl = self._first_accepting(impls, problem)
            args = tuple((arg, impl.descs.get(arg)) for arg in arg_order)
            chosen = impl, args, primitive_key(self.kind.name, walk[1].parts, po_key,
                                               impl.name, args, walk[3])
            if len(_CHOSEN) >= _CHOSEN_MAX:
                _CHOSEN.clear()
            _CHOSEN[walk] = chosen
        self._impl, self._args, self._cache_key = chosen
        self._verbose = None

    def _check_binary_post_ops(self, problem) -> tuple:
        """The execute arguments of the binary post-ops, checked against the problem's
        dst; unimplemented for a kind whose implementations do not fuse them."""
        binary = self._attr._post_ops.binary_args()
        if not binary:
            return ()
        if not self._binary_post_ops:
            raise unimplemented(f"{self.kind.name}: binary post-ops (convolution and matmul "
                                "take them)")
        self._attr._post_ops.check_binary(self.kind.name, problem.dst)
        return tuple(arg for arg, *_ in binary)

    def _first_accepting(self, impls: tuple, problem) -> Impl:
        """The first implementation that accepts the problem, unless it defers and a later
        one accepts; unimplemented, with every reason, when none does."""
        post_ops = self._attr._post_ops.kernel_ops()
        declined, deferred = [], None
        for impl_cls in impls:
            try:
                impl = impl_cls.create(self._engine._runtime, problem, post_ops)
            except Decline as why:
                declined.append(f"{impl_cls.name}: {why}")
                continue
            if any(arg not in impl.descs for arg, *_ in self._attr._post_ops.binary_args()):
                declined.append(f"{impl_cls.name}: no binary post-ops")
                continue
            if deferred is None and impl.defers():
                deferred = impl
                continue
            return impl
        if deferred is None:
            raise unimplemented(f"no {self.kind.name} implementation for {problem}: "
                                + "; ".join(declined))
        return deferred

    def _with_impl(self, impl: Impl) -> "primitive_desc":
        """A copy that names `impl` (one of _alternatives(): the same layouts)."""
        pd = copy.copy(self)
        pd._impl, pd._verbose = impl, None
        return pd

    def _alternatives(self) -> list:
        """Every implementation that accepts the problem with this one's layouts."""
        post_ops = self._attr._post_ops.kernel_ops()
        found = []
        for impl_cls in self._engine._runtime.impls(self.kind):
            try:
                impl = impl_cls.create(self._engine._runtime, self._problem, post_ops)
            except Decline:
                continue
            if impl.descs == self._impl.descs:
                found.append(impl)
        return found

    def _identity(self, threads: int, tuned: bool) -> dict:
        """What makes a cache blob valid for this descriptor (blob_id.py)."""
        return primitive_identity(self._cache_key, self._engine, threads, tuned)

    def get_cache_blob_id(self) -> bytes:
        """The key under which a primitive made from this descriptor stores its cache
        blob: 32 bytes that change with the library build, engine, device, problem,
        attributes, tuning mode and thread count."""
        runtime = self._engine._runtime
        return blob_id(self._identity(runtime.threads(), _tuned(runtime)))

    def _verbose_info(self) -> list:
        """engine, kind, impl, prop_kind, descriptors, attributes, aux, problem."""
        if self._verbose is None:
            mds = " ".join(verbose.md_str(self._verbose_names[arg], md)
                           for arg, md in self._args
                           if md is not None and arg in self._verbose_names)
            self._verbose = [self._engine.get_kind().name, self.kind.name, self._impl.name,
                             self._prop_kind_name(), mds,
                             self._attr._post_ops.verbose_str(), self._aux(),
                             str(self._problem)]
        return self._verbose

    def _prop_kind_name(self) -> str:
        return "undef"

    def _aux(self) -> str:
        return ""

    def impl_info_str(self) -> str:
        return self._impl.name

    def get_engine(self) -> engine:
        return self._engine

    def get_primitive_attr(self) -> primitive_attr:
        return self._attr

    def get_kind(self) -> primitive_kind:
        return self.kind

    def query_md(self, arg: int) -> desc:
        """The layout the primitive expects for DNNL_ARG_* `arg` (a zero desc if none)."""
        return self._impl.descs.get(arg) or desc()

    def src_desc(self) -> desc:
        return self.query_md(ARG_SRC)

    def weights_desc(self) -> desc:
        return self.query_md(ARG_WEIGHTS)

    def bias_desc(self) -> desc:
        return self.query_md(ARG_BIAS)

    def dst_desc(self) -> desc:
        return self.query_md(ARG_DST)


class _Built:
    """What the primitive cache holds: the kernel and the choice it was built with."""
    __slots__ = ("kernel", "impl", "params", "source", "_for", "_identity")

    def __init__(self, kernel, impl: Impl, params: tuple, source: str, built_for: tuple,
                 identity: Optional[dict] = None):
        self.kernel, self.impl, self.params, self.source = kernel, impl, params, source
        self._for, self._identity = built_for, identity  # (pd, threads, tuned)

    @property
    def identity(self) -> dict:
        """The identity of the descriptor it was built for: computed when a blob is
        first read or made (a sha256 over the key that a creation without blobs, most
        misses, never needs)."""
        if self._identity is None:
            pd, threads, tuned = self._for
            self._identity = pd._identity(threads, tuned)
        return self._identity


class primitive:
    """dnnl::primitive: the executable result of a primitive descriptor, optionally
    from a cache blob of an earlier primitive (get_cache_blob()). A kind's subclass
    nests its own `primitive_desc`, which the constructor insists on."""
    primitive_desc = primitive_desc

    def __init__(self, pd: primitive_desc, cache_blob: Optional[bytes] = None):
        if not isinstance(pd, self.primitive_desc):
            raise invalid(f"{type(self).__name__}: expected a "
                          f"{type(self).__name__}.primitive_desc, got {type(pd).__name__}")
        start = time.perf_counter()
        runtime = pd._engine._runtime
        threads, tuned = runtime.threads(), _tuned(runtime)
        # the blob is read only on a miss: a primitive cache hit wins, as in oneDNN
        try:
            built, hit = CACHE.get_or_create(
                (pd._cache_key, threads, tuned),
                lambda: _build(pd, threads, tuned, cache_blob))
        except MemoryError:  # a kernel's scratch is made with it, as oneDNN's scratchpad
            raise error(status.out_of_memory, f"{pd.kind.name}: cannot allocate the "
                        f"scratch memory of {pd._impl.name} for {pd._problem}") from None
        self._kernel, self._built = built.kernel, built
        # a tuned or blob-chosen kernel may be another implementation than the heuristic's
        self._pd = pd if built.impl.name == pd._impl.name else pd._with_impl(built.impl)
        if verbose.creating():
            verbose.create_line(self._pd, "cache_hit" if hit else built.source,
                                (time.perf_counter() - start) * 1e3)

    def get_cache_blob(self) -> bytes:
        """This primitive's cache blob: its descriptor's identity and the kernel choice
        (implementation and blocking) that creation made, measured when tuning was on."""
        return _blob(self._built)

    def get_primitive_desc(self) -> primitive_desc:
        return self._pd

    def get_kind(self) -> primitive_kind:
        return self._pd.kind

    def execute(self, astream: stream, args: Mapping[int, "memory"]) -> None:  # noqa: F821
        """Runs the primitive on `args` ({DNNL_ARG_*: memory}); returns when done."""
        self._launch(astream._queue, self._buffers(astream, args))

    def _bind(self, astream: stream, args: Mapping[int, "memory"]):  # noqa: F821
        """execute(astream, args) as a call of no arguments, the arguments checked now,
        once: a compiled model's run loop executes the same primitives on the same
        memories every inference, and the checks were ~8 us a step (0.5 ms of MobileNet
        v2's 6). The memories' buffers are taken now."""
        return functools.partial(self._launch, astream._queue, self._buffers(astream, args))

    def _buffers(self, astream: stream, args: Mapping[int, "memory"]) -> list:  # noqa: F821
        """The kernel's buffers from `args`, every argument checked."""
        eng = self._pd._engine
        if not isinstance(args, Mapping):
            raise invalid(f"{self._pd.kind.name}: args must map DNNL_ARG_* to memory (a "
                          f"dict), got {type(args).__name__}")
        if not isinstance(astream, stream) or astream._engine is not eng:
            raise invalid(f"{self._pd.kind.name}: the stream does not belong to the "
                          "primitive's engine")
        buffers, used = [], 0
        for arg, md in self._pd._args:
            if md is None:
                buffers.append(None)
                continue
            used += 1
            mem = args.get(arg)
            if mem is None:
                raise invalid(f"{self._pd.kind.name}: argument {arg_name(arg)} is missing")
            if not isinstance(mem, memory):
                raise invalid(f"{arg_name(arg)}: expected a memory, got {type(mem).__name__}")
            if mem._engine is not eng:
                raise invalid(f"{arg_name(arg)}: memory belongs to {mem._engine}, the "
                              f"primitive to {eng}")
            if mem._md is not md and mem._md != md:
                raise invalid(f"{arg_name(arg)}: memory is {mem._md}, the primitive "
                              f"expects {md}")
            buffers.append(mem._buf)
        if len(args) != used:
            extra = sorted(set(args) - {a for a, md in self._pd._args if md is not None})
            raise invalid(f"{self._pd.kind.name}: unexpected argument(s) "
                          + ", ".join(arg_name(a) for a in extra))
        return buffers

    def _launch(self, queue, buffers: list) -> None:
        start = time.perf_counter() if verbose.executing() else 0.0
        try:
            self._pd._engine._runtime.launch(self._kernel, queue, buffers)
        except ValueError as e:  # a size check in the compiled core
            raise error(status.invalid_arguments, f"{self._pd.kind.name}: {e}") from None
        if start:
            verbose.exec_line(self._pd, (time.perf_counter() - start) * 1e3)


def _tuned(runtime) -> bool:
    return runtime.tunable and tuning.get_cpu_tuning()


def _build(pd: primitive_desc, threads: int, tuned: bool, cache_blob) -> _Built:
    """Builds pd's kernel: from `cache_blob` when given (dnnl.error if it does not fit);
    otherwise from the cache directory's blob when it has a valid one; otherwise measured
    (tuning) or the heuristic's, the resulting blob then stored in the cache directory."""
    what = f"{pd.kind.name} cache blob"
    built_for, identity = (pd, threads, tuned), None
    if cache_blob is not None:
        identity = pd._identity(threads, tuned)
        impl, params, records = primitive_blob.read(pd, identity, cache_blob)
        return _Built(impl.kernel_from_blob(params, records, what), impl, params,
                      "from_cache_blob", built_for, identity)
    store = active_store() if pd._persistent else None
    if store is not None:
        identity = pd._identity(threads, tuned)
        # without tuning, a blob that tuning made serves too (primitive_blob.read), and
        # is the better choice: looked up first
        wanted = ([primitive_blob.tuned(identity)] if not tuned
                  and pd._engine._runtime.tunable else []) + [identity]
        for ident in wanted:
            key = blob_id(ident)
            data = store.get(key)
            if data is None:
                continue
            try:
                impl, params, records = primitive_blob.read(pd, identity, data)
                return _Built(impl.kernel_from_blob(params, records, what), impl, params,
                              "from_cache_blob", built_for, identity)
            except error as e:
                store.discard(key, str(e))
    if tuned:
        impl, params, kernel = tuning.tune(pd)
    else:
        impl, params, kernel = _first_buildable(pd)
    built = _Built(kernel, impl, params, "cache_miss", built_for, identity)
    if store is not None:
        store.put(blob_id(identity), _blob(built))
    return built


def _first_buildable(pd: primitive_desc) -> tuple:
    """(impl, params, kernel) of pd's implementation or, when building its kernel
    declines (an OpenCL compiler that failed on this device), of the next one in the
    list that takes the same layouts, as oneDNN dispatches to its reference."""
    impl, later = pd._impl, None
    while True:
        try:
            return impl, impl.params(), impl.make_kernel(impl.params())
        except Decline as why:
            if verbose.creating():
                verbose.dispatch_line(pd._with_impl(impl), str(why))
            if later is None:
                found = pd._alternatives()
                later = found[[i.name for i in found].index(impl.name) + 1:]
            if not later:
                raise error(status.runtime_error, f"{impl.name}: {why}") from None
            impl = later.pop(0)


def _blob(built: _Built) -> bytes:
    return primitive_blob.pack(built.identity, built.impl, built.params, built.kernel)

