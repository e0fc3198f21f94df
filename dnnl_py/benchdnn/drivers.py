"""Every driver by its option name (--conv, --pool, ...), and the names the test suite
and the benchmarks take from here."""
from .conv_matmul import Conv, Matmul
from .driver_base import PLAIN, Driver, attr_of, format_tag, memory_desc, to_memory
from .memory_bound import MEMORY_BOUND_DRIVERS

DRIVERS = {d.name: d for d in (Conv(), Matmul(), *MEMORY_BOUND_DRIVERS)}

__all__ = ["DRIVERS", "PLAIN", "Conv", "Driver", "Matmul", "attr_of", "format_tag",
           "memory_desc", "to_memory"]
