"""A primitive's cache blob (format: blob.py): its identity, the kernel choice creation
made (implementation and blocking) and what the kernel keeps (an OpenCL binary, say);
read back into that choice for a primitive descriptor, or refused with dnnl.error."""
from __future__ import annotations

from . import blob
from ._errors import invalid
from .blob_id import blob_id


def tuned(identity: dict) -> dict:
    """The identity of the same primitive made with tuning: its blob serves this one."""
    return {**identity, "tuning": "on"}


def pack(identity: dict, impl, params: tuple, kernel) -> bytes:
    records = {name: value.encode() for name, value in identity.items()}
    records["impl"] = impl.name.encode()
    records["params"] = blob.ints(params)
    records.update(impl.blob_records(kernel))
    return blob.pack(blob.Kind.primitive, blob_id(identity), records)


def read(pd, identity: dict, data) -> tuple:
    """(impl, params, records) of a blob made for `identity`, one of pd's implementations.
    A blob made with tuning also serves an identity without (FFTW's wisdom rule: a more
    thorough plan serves a less thorough request), never the reverse."""
    what = f"{pd.kind.name} cache blob"
    digest, records = blob.unpack(data, blob.Kind.primitive, what)
    if identity.get("tuning") == "off" and records.get("tuning") == b"on":
        identity = tuned(identity)
    blob.check_identity(records, identity, what)
    if digest != blob_id(identity):
        raise invalid(f"{what}: made for another primitive (id mismatch)")
    name = blob.read_str(blob.get(records, "impl", what), what)
    params = blob.read_ints(blob.get(records, "params", what), what)
    if name == pd._impl.name:   # the heuristic's choice: no search among the others
        impl = pd._impl
    else:
        impl = next((i for i in pd._alternatives() if i.name == name), None)
        if impl is None:
            raise invalid(f"{what}: implementation {name} does not take this problem")
    if params not in impl.candidates():
        raise invalid(f"{what}: {name} has no blocking {list(params)}")
    return impl, params, records
