"""What a primitive's cache blob is valid for (oneDNN's cache_blob_id): named text fields,
built from the engine and the frozen primitive key (never from display text, so a change
of the verbose format changes no blob id), and their digest, the blob id."""
from __future__ import annotations

import hashlib

from . import blob
from ._build_info import GIT_HASH, VERSION
from .cache_key import Key


def primitive_identity(key: Key, engine, threads: int, tuned: bool) -> dict:
    """The identity of a primitive of `key` (cache_key.primitive_key) on `engine`."""
    runtime = engine._runtime
    return {"library": f"dnnl_py {VERSION}", "git hash": GIT_HASH,
            "engine": f"{engine.get_kind().name}:{engine._index} ({runtime.name})",
            "device": runtime.device_id(),
            # the key without its engine part, which holds this process's OpenCL
            # handles: the fields above name the engine and device instead
            "problem key": hashlib.sha256(repr(key.parts[:-1]).encode()).hexdigest(),
            "tuning": "on" if tuned else "off", "threads": str(threads)}


def blob_id(identity: dict) -> bytes:
    return blob.identity_digest(identity)
