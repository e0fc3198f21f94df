"""python -m dnnl_py.cache info|ls|verify|clear DIR: look after a cache directory.

verify checks every entry's framing and checksum (no key is needed, encrypted or
not), and with DNNL_PY_CACHE_KEY set its MAC too; it exits 1 if any is damaged;
--remove deletes those. Only files whose header
is the cache's are looked at or removed; clear also removes temp files that killed
writers left behind."""
from __future__ import annotations

import argparse
import os
import sys
import time

from . import blob_store


def _age(mtime: float) -> str:
    seconds = max(0.0, time.time() - mtime)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dnnl_py.cache", description=__doc__)
    parser.add_argument("command", choices=["info", "ls", "verify", "clear"])
    parser.add_argument("dir")
    parser.add_argument("--remove", action="store_true", help="verify: delete damaged entries")
    args = parser.parse_args(argv)
    if not os.path.isdir(args.dir):
        print(f"{args.dir}: not a directory", file=sys.stderr)
        return 2
    store = blob_store(args.dir)
    entries = store.entries()
    if args.command == "info":
        total = sum(e.size for e in entries)
        stale = store.stale_temp_files()
        print(f"directory {store.path}\nentries   {len(entries)}\nbytes     {total}")
        if stale:
            print(f"orphans   {len(stale)} temp files of killed writers, "
                  f"{sum(e.size for e in stale)} bytes (clear removes them)")
        if entries:
            print(f"oldest    {_age(entries[0].mtime)} ago\nnewest    "
                  f"{_age(entries[-1].mtime)} ago")
    elif args.command == "ls":
        print(f"{'size':>10}  {'last used':>9}  file")
        for e in reversed(entries):
            print(f"{e.size:>10}  {_age(e.mtime):>9}  {e.name}")
    elif args.command == "verify":
        damaged = checked_count = 0
        for e in entries:
            checked = store.verify(e)
            if checked is None:
                continue  # evicted by another process since the listing: not damage
            checked_count += 1
            if checked.key is None:
                damaged += 1
                print(f"DAMAGED {e.name}: {checked.problem}")
                if args.remove:
                    store.remove(e.name)
        print(f"{checked_count} entries, {checked_count - damaged} ok, {damaged} damaged"
              + (" (removed)" if args.remove and damaged else ""))
        return 1 if damaged else 0
    else:
        print(f"removed {store.clear()} files from {store.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
