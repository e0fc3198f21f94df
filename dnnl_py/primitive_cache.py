"""The primitive cache: a process-wide LRU of compiled kernels keyed by everything that
makes a primitive distinct, filled once per key even when threads race for it."""
from __future__ import annotations

import os
import threading
from collections import OrderedDict
from typing import Callable, Hashable, Tuple

from ._errors import invalid
from .record import record

DEFAULT_CAPACITY = 1024
ENV_VARS = ("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "DNNL_PRIMITIVE_CACHE_CAPACITY")


@record(frozen=True)
class cache_stats:
    """Counters since the process started or the last clear_primitive_cache()."""
    hits: int
    misses: int
    size: int
    capacity: int


def _capacity(value, source: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise invalid(f"{source}: expected a non-negative integer, got {value!r}")
    return value


def _capacity_from_env() -> int:
    for name in ENV_VARS:  # the first one set wins, as in oneDNN
        value = os.environ.get(name)
        if value is not None:
            text = value.strip()
            return _capacity(int(text) if text.lstrip("-").isdigit() else value, name)
    return DEFAULT_CAPACITY


class _Pending:
    """A creation in flight, as its waiters see it: its value or its exception, once
    set. (concurrent.futures.Future does this too, but imports logging: ~3 ms of every
    process's `import dnnl_py`.)"""
    __slots__ = ("_done", "_value", "_exception")

    def __init__(self):
        self._done, self._value, self._exception = threading.Event(), None, None

    def set_result(self, value) -> None:
        self._value = value
        self._done.set()

    def set_exception(self, exception: BaseException) -> None:
        self._exception = exception
        self._done.set()

    def result(self):
        self._done.wait()
        if self._exception is not None:
            raise self._exception
        return self._value


class PrimitiveCache:
    def __init__(self, capacity: int):
        self._lock = threading.Lock()
        self._entries: OrderedDict = OrderedDict()
        self._pending: dict = {}  # key -> _Pending creation
        self._capacity = capacity
        self._hits = self._misses = 0

    def get_or_create(self, key: Hashable, create: Callable) -> Tuple[object, bool]:
        """(value, hit). The first thread to miss on `key` runs create(); the others
        wait for its result (a hit) or its exception (raised in each of them)."""
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
                self._hits += 1
                return value, True
            waiting = self._pending.get(key)
            if waiting is not None:
                self._hits += 1
            else:
                self._misses += 1
                owned = _Pending()
                if self._capacity:  # at capacity 0 every creation builds its own
                    self._pending[key] = owned
        if waiting is not None:
            return waiting.result(), True
        try:
            value = create()
        except BaseException as e:
            with self._lock:
                self._release(key, owned)
            owned.set_exception(e)
            raise
        with self._lock:
            if self._release(key, owned) and self._capacity:
                self._entries[key] = value
                self._evict()
        owned.set_result(value)
        return value, False

    def _release(self, key, owned: _Pending) -> bool:
        """Ends this creation's claim on `key`; False if it had none."""
        if self._pending.get(key) is not owned:
            return False
        del self._pending[key]
        return True

    def _evict(self) -> None:
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def set_capacity(self, capacity) -> None:
        capacity = _capacity(capacity, "primitive cache capacity")
        with self._lock:
            self._capacity = capacity
            self._evict()

    def capacity(self) -> int:
        return self._capacity

    def size(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._hits = self._misses = 0

    def stats(self) -> cache_stats:
        with self._lock:
            return cache_stats(self._hits, self._misses, len(self._entries), self._capacity)


CACHE = PrimitiveCache(_capacity_from_env())


def set_primitive_cache_capacity(capacity: int) -> None:
    """dnnl::set_primitive_cache_capacity: entries kept; 0 disables the cache and
    empties it; shrinking evicts the least recently used."""
    CACHE.set_capacity(capacity)


def get_primitive_cache_capacity() -> int:
    return CACHE.capacity()


def get_primitive_cache_size() -> int:
    """Entries in the cache now."""
    return CACHE.size()


def clear_primitive_cache() -> None:
    """Drops every entry and resets the counters; primitives already created live on."""
    CACHE.clear()


def primitive_cache_stats() -> cache_stats:
    return CACHE.stats()
