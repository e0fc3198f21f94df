"""Where primitive creation looks cache blobs up and stores them: any object with
get/put/discard (the BlobStore protocol), set with dnnl.set_cache_store(store).
dnnl.set_cache_dir(path) is sugar for the directory store (dnnl_py/cache/), and
DNNL_PY_CACHE_DIR sets one before any call. The directory store's code is imported only
when a directory is asked for. A store framing, checksumming or encrypting
its values can reuse the directory store's: dnnl_py.cache.sealed_store(store, key=...,
encrypt=..., decrypt=...)."""
from __future__ import annotations

import os
import threading
from typing import Callable, Optional, Protocol, runtime_checkable

from ._errors import invalid

ENV_VAR = "DNNL_PY_CACHE_DIR"  # as dnnl_py.cache.ENV_VAR, which this does not import yet


@runtime_checkable
class BlobStore(Protocol):
    def get(self, key: bytes) -> Optional[bytes]:
        """The value stored under key, or None (absent, or not to be trusted)."""

    def put(self, key: bytes, value: bytes) -> None:
        """Stores value under key; a failure must not raise (the cache never fails a
        computation)."""

    def discard(self, key: bytes, why: str) -> None:
        """The value under key was refused (damaged, stale): drop it."""


class _State:
    lock = threading.Lock()
    store: Optional[BlobStore] = None
    from_env = True  # until a store is set, DNNL_PY_CACHE_DIR decides (read once)


def set_cache_store(store: Optional[BlobStore]) -> None:
    """Every primitive (and OpenCL engine) created from now on is looked up in and stored
    to `store`; None turns the persistent cache off."""
    if store is not None and not all(callable(getattr(store, m, None))
                                     for m in ("get", "put", "discard")):
        raise invalid(f"set_cache_store: a store needs get, put and discard methods, got "
                      f"{type(store).__name__}")
    with _State.lock:
        _State.store, _State.from_env = store, False


def get_cache_store() -> Optional[BlobStore]:
    return active_store()


def set_cache_dir(path, *, max_bytes: Optional[int] = None,
                  encrypt: Optional[Callable[[bytes], bytes]] = None,
                  decrypt: Optional[Callable[[bytes], bytes]] = None,
                  key: Optional[bytes] = None) -> None:
    """Every primitive created from now on is looked up in and stored to `path` (a
    directory, created 0700); None turns the persistent cache off. With a secret `key`
    (or DNNL_PY_CACHE_KEY) only entries written with the same key are loaded. Sugar for
    set_cache_store(dnnl.blob_store(path, ...))."""
    if path is None:
        return set_cache_store(None)
    from .cache import blob_store
    set_cache_store(blob_store(path, max_bytes=max_bytes, encrypt=encrypt, decrypt=decrypt,
                               key=key))


def get_cache_dir() -> Optional[str]:
    """The directory of the store in use, if it is a directory store."""
    return getattr(active_store(), "path", None)


def active_store() -> Optional[BlobStore]:
    """The store in use, or None. The directory store's code (dnnl_py.cache, with its
    logging, tempfile and hmac: ~10 ms of an import) is imported only when DNNL_PY_CACHE_DIR
    asks for a directory."""
    if _State.from_env:
        path = os.environ.get(ENV_VAR)
        with _State.lock:
            if _State.from_env:
                if path:
                    from .cache import blob_store, env_max_bytes
                    _State.store = blob_store(path, max_bytes=env_max_bytes())
                _State.from_env = False
    return _State.store
