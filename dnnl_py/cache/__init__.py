"""A directory of cache blobs that the library fills and reads itself (OpenVINO's
CACHE_DIR, for primitives): set_cache_dir(path) or DNNL_PY_CACHE_DIR, and every
primitive creation looks up its blob there and stores the blob it made.

One file per key, `<sha256 of the key>.blob`:

    magic b"DNNLPYC\\1", u32 key length, key, u64 value length, value,
    mac (16 bytes: keyed blake2b of all before it, zeros without a secret key),
    checksum (16 bytes: blake2b of all before it)

The value is what encrypt() returned, so the framing (and `verify`) needs no key. With
a secret key (set_cache_dir(key=...) or DNNL_PY_CACHE_KEY) an entry whose MAC does not
match was not written by a holder of the key: a miss (docs/persistent-cache.md has the
threat model).
Files are written to a temporary name and renamed, so readers see whole entries or
none, and processes filling one directory at once lose nothing. Reads refresh an
entry's mtime; past max_bytes the entries least recently used go first. Eviction and
clear() touch only files whose header is ours (a user's `data.blob` beside them is
left alone) and temp files that a killed writer left behind. A damaged entry is a miss:
logged and removed. The cache never fails a computation: an unwritable directory warns
once and the library carries on without it.

As ssh and ccache do, a directory or entry that another user could have written (owned
by someone else, or group/world-writable) is not used: a warning, once, and the library
runs without it. Symlinks inside the directory are never followed.

DNNL_PY_CACHE_FAILURE_FATAL=1 (pyopencl's CACHE_FAILURE_FATAL) turns every failure the
cache would swallow into a dnnl.error (runtime_error): the test suite runs with it, so a
test cannot pass because the cache silently gave up.
"""
from __future__ import annotations

import errno
import hashlib
import hmac
import mmap
import os
import re
import stat
import struct
import time
import warnings
from typing import Callable, Optional

from .._errors import error, invalid, status
from ..record import record

ENV_VAR = "DNNL_PY_CACHE_DIR"
MAX_BYTES_ENV_VAR = "DNNL_PY_CACHE_DIR_MAX_BYTES"
FAILURE_FATAL_ENV_VAR = "DNNL_PY_CACHE_FAILURE_FATAL"
KEY_ENV_VAR = "DNNL_PY_CACHE_KEY"
SUFFIX = ".blob"
_MAGIC = b"DNNLPYC\1"
_OURS = _MAGIC[:-1]  # an entry of any format version (\0 had no MAC): ours to evict
_CHECKSUM_BYTES = 16
# Temp files are `.tmp-<writer pid>-<random>.blob`: the pid tells a live writer's file
# from one that a killed writer left behind (older versions wrote no pid).
_TEMP_NAME = re.compile(r"\.tmp-(?:(\d+)-)?\w+" + re.escape(SUFFIX) + r"\Z")
STALE_TEMP_SECONDS = 300  # no write takes this long: older temp files are orphans


def _log():
    """The "dnnl_py.cache" logger, imported when there is something to say: logging
    costs ~4 ms to import, a tenth of a warm model start's own work."""
    import logging
    return logging.getLogger("dnnl_py.cache")


def _failure(message: str) -> None:
    """Every failure the cache swallows passes here first: fatal when asked to be."""
    if os.environ.get(FAILURE_FATAL_ENV_VAR, "").strip() not in ("", "0"):
        raise error(status.runtime_error, f"cache dir: {message} "
                    f"({FAILURE_FATAL_ENV_VAR} is set)")


@record(frozen=True)
class entry:
    """A file of the directory, as `ls` shows it."""
    name: str
    key: Optional[bytes]   # None when the file is damaged
    size: int
    mtime: float
    problem: str = ""      # why it is damaged, if it is


def _mac_key(secret) -> Optional[bytes]:
    """The MAC key of a secret of any length (blake2b takes at most 64 bytes)."""
    if secret is None:
        return None
    if not isinstance(secret, (bytes, bytearray, memoryview)) or not len(secret):
        raise invalid(f"cache dir: key must be non-empty bytes, got {type(secret).__name__}")
    return hashlib.blake2b(bytes(secret), digest_size=32, person=b"dnnl_py cache").digest()


def _mac(mac_key: Optional[bytes], signed: bytes) -> bytes:
    if mac_key is None:
        return bytes(_CHECKSUM_BYTES)
    return hashlib.blake2b(signed, digest_size=_CHECKSUM_BYTES, key=mac_key).digest()


def _frame(key: bytes, value: bytes, mac_key: Optional[bytes]) -> bytes:
    signed = (_MAGIC + struct.pack("<I", len(key)) + key + struct.pack("<Q", len(value))
              + value)
    body = signed + _mac(mac_key, signed)
    return body + hashlib.blake2b(body, digest_size=_CHECKSUM_BYTES).digest()


def _unframe(data, mac_key: Optional[bytes], checksum: bool = True) -> tuple[bytes, bytes]:
    """(key, value) of a file's bytes (or a memoryview of them: the value is then a
    view too, not a copy), its MAC checked when there is a key, its checksum unless the
    caller checks the value itself; ValueError says what is wrong."""
    head = bytes(data[:len(_MAGIC)])
    if head.startswith(_OURS) and len(data) > len(_OURS) and head != _MAGIC:
        raise ValueError(f"entry format {data[len(_OURS)]}, this build writes {_MAGIC[-1]}")
    if len(data) < len(_MAGIC) + 4 + 8 + 2 * _CHECKSUM_BYTES or head != _MAGIC:
        raise ValueError("not a dnnl_py cache entry (bad magic or truncated)")
    body = data[:-_CHECKSUM_BYTES]
    if checksum and hashlib.blake2b(body, digest_size=_CHECKSUM_BYTES).digest() != bytes(
            data[-_CHECKSUM_BYTES:]):
        raise ValueError("checksum mismatch (truncated or corrupted)")
    body, mac = body[:-_CHECKSUM_BYTES], body[-_CHECKSUM_BYTES:]
    if mac_key is not None and not hmac.compare_digest(bytes(mac), _mac(mac_key, body)):
        raise ValueError("MAC mismatch: not written with this cache key")
    at = len(_MAGIC)
    (key_len,) = struct.unpack_from("<I", body, at)
    at += 4
    if at + key_len + 8 > len(body):
        raise ValueError("key runs past the end")
    key = bytes(body[at:at + key_len])
    at += key_len
    (value_len,) = struct.unpack_from("<Q", body, at)
    at += 8
    if at + value_len != len(body):
        raise ValueError("value length does not match the file")
    return key, body[at:]


def value_offset(key: bytes) -> int:
    """Where an entry's value starts in its file: a value laid out for a memory map
    aligns its arrays to this."""
    return len(_MAGIC) + 4 + len(key) + 8


class _Sealer:
    """Framing, checksum, MAC and encryption of values: what the directory store does to
    each entry, and any store can have through sealed_store()."""

    def __init__(self, encrypt, decrypt, key):
        if (encrypt is None) != (decrypt is None):
            raise invalid("cache dir: encrypt and decrypt come together")
        for name, f in (("encrypt", encrypt), ("decrypt", decrypt)):
            if f is not None and not callable(f):
                raise invalid(f"cache dir: {name} must be a callable (bytes -> bytes), "
                              f"got {type(f).__name__}")
        if key is None and os.environ.get(KEY_ENV_VAR):
            key = os.fsencode(os.environ[KEY_ENV_VAR])
        self.encrypt, self.decrypt, self.mac_key = encrypt, decrypt, _mac_key(key)

    def seal(self, key: bytes, value: bytes) -> bytes:
        """The framed (encrypted) value; the user's encrypt may raise anything."""
        if self.encrypt is not None:
            value = bytes(self.encrypt(value))
        return _frame(bytes(key), bytes(value), self.mac_key)

    def unseal_or_discard(self, store, key: bytes, data: bytes,
                          checksum: bool = True) -> Optional[bytes]:
        """The value, or None after store.discard(key, why) when anything is wrong."""
        try:
            return self.unseal(key, data, checksum)
        except Exception as e:  # a user's decrypt may raise anything: a miss
            store.discard(key, str(e))
            return None

    def unseal(self, key: bytes, data, checksum: bool = True) -> bytes:
        """The value a frame holds for key; anything wrong raises (a miss)."""
        stored_key, value = _unframe(data, self.mac_key, checksum)
        if stored_key != key:
            raise ValueError("the entry belongs to another key")
        if self.decrypt is not None:
            return bytearray(self.decrypt(bytes(value)))  # writable, as a mapped value is
        return value


class sealed_store:
    """Any BlobStore (dnnl.set_cache_store) with the directory store's framing, checksum,
    secret-key MAC and encryption around its values: a value that fails them is
    discarded and a miss."""

    def __init__(self, inner, *, encrypt: Optional[Callable[[bytes], bytes]] = None,
                 decrypt: Optional[Callable[[bytes], bytes]] = None,
                 key: Optional[bytes] = None):
        self.inner, self._sealer = inner, _Sealer(encrypt, decrypt, key)

    def get(self, key: bytes) -> Optional[bytes]:
        data = self.inner.get(key)
        if data is None:
            return None
        return self._sealer.unseal_or_discard(self, key, data)

    def put(self, key: bytes, value: bytes) -> None:
        try:
            self.inner.put(key, self._sealer.seal(key, value))
        except Exception as e:  # the user's callback: never a failed creation
            _failure(f"encrypt raised {type(e).__name__}: {e}; the entry is not written")

    def discard(self, key: bytes, why: str) -> None:
        self.inner.discard(key, why)


class blob_store:
    """get(key) -> bytes | None and put(key, value) over a directory, for users who run
    their own flow (pd.get_cache_blob_id() -> key, prim.get_cache_blob() -> value).
    `key` (bytes; default DNNL_PY_CACHE_KEY) is the secret that authenticates entries."""

    def __init__(self, path, *, max_bytes: Optional[int] = None,
                 encrypt: Optional[Callable[[bytes], bytes]] = None,
                 decrypt: Optional[Callable[[bytes], bytes]] = None,
                 key: Optional[bytes] = None):
        if max_bytes is not None and (isinstance(max_bytes, bool)
                                      or not isinstance(max_bytes, int) or max_bytes < 0):
            raise invalid(f"cache dir: max_bytes must be a non-negative int, got {max_bytes!r}")
        self._sealer = _Sealer(encrypt, decrypt, key)
        path = os.fspath(path)
        if not path:  # "" would silently mean the current directory
            raise invalid("cache dir: the path is empty (None turns the cache off)")
        self.path = os.path.abspath(os.path.expanduser(path))
        self.max_bytes = max_bytes
        self._warned = False
        self._swept = False  # stale temp files removed once per store when unbounded
        try:
            os.makedirs(self.path, mode=0o700, exist_ok=True)
        except OSError as e:
            self._warn(f"cannot create {self.path}: {e}; carrying on without storing")

    def _warn(self, message: str) -> None:
        _failure(message)
        if not self._warned:
            self._warned = True
            warnings.warn(f"dnnl_py cache dir: {message}", RuntimeWarning, stacklevel=4)

    def _usable(self) -> bool:
        """False (with a warning, once) when another user could write the directory:
        an entry they planted would be loaded as ours."""
        try:
            problem = _writable_by_others(os.stat(self.path))
        except OSError as e:
            problem = f"unreadable ({e})"
        if problem:
            self._warn(f"{self.path} is {problem}; not using it")
        return problem is None

    def _file(self, key: bytes) -> str:
        if not isinstance(key, (bytes, bytearray)):
            raise invalid(f"cache dir: a key is bytes, got {type(key).__name__}")
        return os.path.join(self.path, hashlib.sha256(key).hexdigest() + SUFFIX)

    def get(self, key: bytes) -> Optional[bytes]:
        """The value stored under key, or None (absent, damaged, or not decryptable)."""
        data = self._read(key, lambda f: f.read())
        return None if data is None else self._sealer.unseal_or_discard(self, key, data)

    def get_mapped(self, key: bytes, checksum: bool = True):
        """get(), but the value is a writable memoryview of a private (copy-on-write)
        memory map of the file when it is not encrypted: a large value is read from the
        page cache as it is used, not copied. checksum=False leaves the frame's checksum
        (one blake2b pass, ~0.25 s over 100 MB) to a caller whose value carries its own,
        cheaper to check (the model cache's: crc32 per array, on every core). A MAC
        (with a secret key) and decryption are always checked."""
        if self._sealer.decrypt is not None:
            return self.get(key)

        def mapped(f):
            size = os.fstat(f.fileno()).st_size
            return (memoryview(mmap.mmap(f.fileno(), size, access=mmap.ACCESS_COPY))
                    if size else memoryview(b""))

        data = self._read(key, mapped)
        return (None if data is None
                else self._sealer.unseal_or_discard(self, key, data, checksum))

    def _read(self, key: bytes, read):
        """read(f) of key's entry file, which becomes the most recently used; None when it
        is absent, untrusted (warned) or unreadable (logged)."""
        path = self._file(key)
        if not self._usable():
            return None
        try:
            with _open_entry(path) as f:
                data = read(f)
                try:  # most recently used; through the descriptor, so never a link's target
                    os.utime(f.fileno())
                except OSError:
                    pass
        except FileNotFoundError:
            return None
        except _Untrusted as e:
            self._warn(f"entry {path} is {e}; not using it")
            return None
        except (OSError, ValueError) as e:  # ValueError: mmap refused the file
            _failure(f"cannot read {path}: {e}")
            _log().warning("cannot read %s: %s", path, e)
            return None
        return data

    def put(self, key: bytes, value: bytes) -> None:
        """Stores value under key (atomically); a failure warns once, never raises."""
        path = self._file(key)
        if not self._usable():
            return
        try:
            data = self._sealer.seal(key, value)
        except Exception as e:  # the user's callback: never a failed creation
            self._warn(f"encrypt raised {type(e).__name__}: {e}; the entry is not written")
            return
        import tempfile  # here: a process that only reads (a warm start) never needs it

        try:
            fd, tmp = tempfile.mkstemp(dir=self.path, prefix=f".tmp-{os.getpid()}-",
                                       suffix=SUFFIX)
        except OSError as e:
            self._warn(f"cannot write in {self.path}: {e}; carrying on without storing")
            return
        try:
            with os.fdopen(fd, "wb") as f:  # mkstemp: mode 0600
                f.write(data)
            os.replace(tmp, path)
        except OSError as e:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            self._warn(f"cannot write {path}: {e}; carrying on without storing")
            return
        if self.max_bytes is not None or not self._swept:
            self.evict(self.max_bytes)

    def discard(self, key: bytes, why: str) -> None:
        """Removes a damaged or stale entry (it will be rewritten), logging why."""
        path = self._file(key)
        _log().warning("dropping cache entry %s: %s", path, why)
        try:
            os.unlink(path)
        except OSError:
            pass
        _failure(f"damaged entry {path}: {why}")  # removed first: a rerun rebuilds it

    def _scan(self) -> tuple[list, list]:
        """(entries least recently used first, stale temp files): only regular files
        whose header is ours; anything else in the directory is the user's."""
        found, stale = [], []
        try:
            names = os.listdir(self.path)
        except OSError:
            return found, stale
        now = time.time()
        for name in names:
            temp = _TEMP_NAME.match(name)
            if not name.endswith(SUFFIX) or (name.startswith(".tmp-") and not temp):
                continue
            e = _read_header(os.path.join(self.path, name), partial_ok=bool(temp))
            if e is None:
                continue  # not ours, or removed meanwhile by another process
            if not temp:
                found.append(e)
            elif now - e.mtime > STALE_TEMP_SECONDS or temp[1] and not _alive(int(temp[1])):
                stale.append(e)
        return sorted(found, key=lambda e: e.mtime), stale

    def entries(self) -> list:
        """Every entry file, least recently used first (damaged ones included)."""
        return self._scan()[0]

    def stale_temp_files(self) -> list:
        """Temp files of writers that died (or are older than STALE_TEMP_SECONDS)."""
        return self._scan()[1]

    def verify(self, e: entry) -> Optional[entry]:
        """The entry with its key read back, or with what is wrong with it; None when
        it is gone (evicted by another process since it was listed)."""
        try:
            with _open_entry(os.path.join(self.path, e.name)) as f:
                key, _ = _unframe(f.read(), self._sealer.mac_key)
            if hashlib.sha256(key).hexdigest() + SUFFIX != e.name:
                raise ValueError("file name does not match its key")
            return entry(e.name, key, e.size, e.mtime)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, struct.error, _Untrusted) as why:
            return entry(e.name, None, e.size, e.mtime, str(why))

    def remove(self, name: str) -> bool:
        """Removes the file `name` of the directory; False if it was already gone."""
        try:
            os.unlink(os.path.join(self.path, name))
            return True
        except FileNotFoundError:  # another process removed it first
            return False
        except OSError as e:
            _failure(f"cannot remove {name}: {e}")
            _log().warning("cannot remove %s: %s", name, e)
            return False

    def evict(self, max_bytes: Optional[int] = None) -> None:
        """Removes stale temp files, then least recently used entries until the total
        is within max_bytes (when given)."""
        self._swept = True
        entries, stale = self._scan()
        for e in stale:
            self.remove(e.name)
        if max_bytes is None:
            return
        total = sum(e.size for e in entries)
        for e in entries:
            if total <= max_bytes:
                break
            if self.remove(e.name):
                total -= e.size

    def clear(self) -> int:
        """Removes every entry and stale temp file; returns how many files."""
        entries, stale = self._scan()
        return sum(self.remove(e.name) for e in entries + stale)


def _read_header(path: str, partial_ok: bool) -> Optional[entry]:
    """The file as an entry if it is a regular file that starts with our magic (with
    partial_ok, a temp file cut short by a killed writer may hold less); else None."""
    try:  # O_NONBLOCK: a FIFO named *.blob must not hang the listing
        with os.fdopen(os.open(path, _OPEN_FLAGS), "rb") as f:
            st = os.fstat(f.fileno())
            head = f.read(len(_MAGIC)) if stat.S_ISREG(st.st_mode) else None
    except OSError:
        return None
    if head is None:
        return None
    ours = len(head) == len(_MAGIC) and head.startswith(_OURS)
    if not (ours or partial_ok and _MAGIC.startswith(head)):
        return None
    return entry(os.path.basename(path), None, st.st_size, st.st_mtime)


# Never through a symlink (its target is not ours to read, time-stamp or count), and
# without blocking on a FIFO.
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK


class _Untrusted(Exception):
    """An entry that is not a regular file of ours: not used, not taken for damage."""


def _writable_by_others(st: os.stat_result) -> Optional[str]:
    """Why another user could have written the file or directory, or None (we or root
    own it and only the owner may write it: ssh's StrictModes)."""
    if st.st_uid not in (os.geteuid(), 0):
        return f"owned by uid {st.st_uid}"
    if st.st_mode & 0o022:
        return f"writable by group or others (mode {stat.S_IMODE(st.st_mode):o})"
    return None


def _open_entry(path: str):
    """The entry opened for reading; _Untrusted if it is a symlink, not a regular file
    or writable by another user (checked on the open file, so it cannot be swapped)."""
    try:
        f = os.fdopen(os.open(path, _OPEN_FLAGS), "rb")
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise _Untrusted("a symlink (never followed in the cache directory)") from None
        raise
    st = os.fstat(f.fileno())
    problem = ("not a regular file" if not stat.S_ISREG(st.st_mode)
               else _writable_by_others(st))
    if problem:
        f.close()
        raise _Untrusted(problem)
    return f


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, as another user's
        pass
    return True


def env_max_bytes() -> Optional[int]:
    """DNNL_PY_CACHE_DIR_MAX_BYTES as an int; a bad value warns and leaves no bound, as
    oneDNN ignores a malformed environment variable."""
    text = os.environ.get(MAX_BYTES_ENV_VAR, "").strip()
    if not text:
        return None
    if text.isdigit():
        return int(text)
    warnings.warn(f"{MAX_BYTES_ENV_VAR}={text!r} is not a byte count; ignored",
                  RuntimeWarning, stacklevel=4)
    return None
