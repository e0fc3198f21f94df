"""The engine's strided copy kernel (kernels/util.cl, copy_strided), which reorders and
the GEMM's weight packing run on: its limits, its launch shapes and how a copy plan is
laid out for it."""
import numpy as np

LOCAL = 64     # work-items per work-group
MAX_DIMS = 12  # dims of a copy plan the kernel takes
RUN = 16       # elements of the innermost dim a work-item copies (RUN in util.cl)
# PoCL compiles a work-group function per launch shape, and a grid of 64K work-items or
# more is another shape than a smaller one (measured): the build runs both once.
WARM_UP = [["copy_strided", [size], [LOCAL],
            [["buffer", 4], ["buffer", 4], ["buffer", 24 * MAX_DIMS], ["int32", 0],
             ["int64", 0], ["int64", 0], ["int64", 0]]]
           for size in (LOCAL, LOCAL << 11)]


def plan_table(plan) -> tuple:
    """(table, ndims, work-items) of a copy plan (dims, src strides, dst strides;
    outermost first): the kernel's table holds the dims, then the source strides, then
    the destination strides, MAX_DIMS slots each, innermost first. No dims is one element."""
    dims, ss, ds = (list(reversed(x)) or [v] for x, v in zip(plan, (1, 0, 0)))
    table = np.zeros(3 * MAX_DIMS, np.int64)
    table[:len(dims)] = dims
    table[MAX_DIMS:MAX_DIMS + len(ss)] = ss
    table[2 * MAX_DIMS:2 * MAX_DIMS + len(ds)] = ds
    return table, len(dims), int(np.prod(dims[1:], dtype=np.int64)) * -(-dims[0] // RUN)
