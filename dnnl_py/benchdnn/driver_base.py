"""What every driver shares: the Driver interface (a kind's problem syntax, how a problem
and its configuration become a primitive descriptor, seeded inputs, the numpy reference,
the work a timing measures) and the layouts benchdnn's tag options name."""
from __future__ import annotations

import numpy as np

import dnnl_py as dnnl

from .options import Setup
from .problems import ProblemError, binary_post_op

dt, tag = dnnl.memory.data_type, dnnl.memory.format_tag
DEFAULT = Setup()
PLAIN = {1: tag.a, 2: tag.ab, 3: tag.abc, 4: tag.abcd, 5: tag.abcde, 6: tag.abcdef}


def format_tag(name: str) -> tag:
    try:
        return tag[name]
    except KeyError:
        raise ProblemError(f"unknown format tag {name!r} (oneDNN's names: any, nchw, nhwc, "
                           "abcd, ...)") from None


# benchdnn's generic tags: abx is plain, axb channels last, xba spatial dims outermost
_GENERIC = {"abx": lambda n: _letters(n), "axb": lambda n: "a" + _letters(n)[2:] + "b",
            "xba": lambda n: _letters(n)[2:] + "ba"}


def _letters(n: int) -> str:
    return "abcdefghijkl"[:n]


def tag_problem(name: str, ndims: int) -> str:
    """Why tag `name` cannot describe an ndims-dim memory, or ''."""
    letters = _GENERIC[name](ndims) if name in _GENERIC else name
    if name == "any" or letters.islower() and sorted(letters) == list(_letters(ndims)):
        return ""
    if letters.islower():
        return f"tag {name} does not describe {ndims} dims"
    if name not in tag.__members__:
        return f"blocked tag {name} (not one of dnnl_py's format tags)"
    if len({c.lower() for c in name if c.isalpha()}) != ndims:
        return f"tag {name} does not describe {ndims} dims"
    return ""


def memory_desc(dims: list, name: str, strides: tuple = ()) -> dnnl.memory.desc:
    """f32 memory of `dims` laid out as the tag says (benchdnn's --stag and friends: any,
    abx/axb/xba, any permutation of plain letters, dnnl_py's blocked tags) or with
    explicit `strides` (benchdnn's --strides)."""
    md = dnnl.memory.desc
    if strides:
        return md(dims, dt.f32, list(strides))
    letters = _GENERIC[name](len(dims)) if name in _GENERIC else name
    if name == "any" or not letters.islower():
        return md(dims, dt.f32, format_tag(name))
    out, step = [0] * len(dims), 1
    for letter in reversed(letters):           # innermost letter last
        d = ord(letter) - ord("a")
        out[d], step = step, step * dims[d]
    return md(dims, dt.f32, out)


# benchdnn's broadcast policies as the dst dims src1 keeps (n: dst's ndims); per_oc is
# the channel dim, `oc` (matmul's: the last)
_POLICY_DIMS = {
    "common": lambda n, oc: (), "per_tensor": lambda n, oc: tuple(range(n)),
    "per_oc": lambda n, oc: (oc,), "per_dim_0": lambda n, oc: (0,),
    "per_dim_1": lambda n, oc: (1,), "per_dim_01": lambda n, oc: (0, 1),
    "per_dim_2": lambda n, oc: (2,), "per_dim_3": lambda n, oc: (3,),
    "per_mb": lambda n, oc: (0,), "per_mb_spatial": lambda n, oc: (0, *range(2, n)),
    "per_spatial": lambda n, oc: tuple(range(2, n)), "per_mb_w": lambda n, oc: (0, n - 1),
    "per_w": lambda n, oc: (n - 1,),
}


def src1_dims(spelling: str, dst: list, oc_axis: int) -> list:
    """The dims of a binary post-op's src1 over `dst`: dst's along the dims its policy (or
    integer mask) keeps, 1 elsewhere; raises ValueError for a dim dst lacks."""
    _, _, policy, _ = binary_post_op(spelling)
    n = len(dst)
    kept = [d for d in range(n) if int(policy) >> d & 1] if policy.isdigit() else \
        _POLICY_DIMS[policy](n, oc_axis)
    if any(d >= n for d in kept) or policy.isdigit() and int(policy) >> n:
        raise ValueError(f"policy {policy} names a dim that the {n}-dim dst lacks")
    return [size if d in kept else 1 for d, size in enumerate(dst)]


def attr_of(ops, src1: dict = None) -> dnnl.primitive_attr:
    """A primitive_attr holding post-ops in parse_post_ops' form; `src1` gives the dims of
    each binary post-op's src1 by post-op index."""
    po = dnnl.post_ops()
    for i, op in enumerate(ops):
        if op[0] == "sum":
            po.append_sum(op[1])
        elif op[0] == "binary":
            alg, _, _, tag_name = binary_post_op(op[1])
            po.append_binary(getattr(dnnl.algorithm, "binary_" + alg),
                             memory_desc(src1[i], tag_name))
        else:
            po.append_eltwise(getattr(dnnl.algorithm, op[1]), op[2], op[3])
    attr = dnnl.primitive_attr()
    attr.set_post_ops(po)
    return attr


def to_memory(eng, strm, array, md) -> dnnl.memory:
    """A memory of layout `md` holding a copy of `array` (reordered from a plain layout
    when `md` is not plain)."""
    data = np.array(array, np.float32, order="C")
    dense = [s // data.itemsize for s in data.strides]  # any rank: format tags stop at 6
    user = dnnl.memory(dnnl.memory.desc(data.shape, dt.f32, dense), eng, data)
    if md == user.get_desc():
        return user
    mem = dnnl.memory(md, eng)
    dnnl.reorder(user, mem).execute(strm, {dnnl.ARG_FROM: user, dnnl.ARG_TO: mem})
    return mem


class Driver:
    """One primitive kind, as the driver runs it. A kind names its data (`dims`: src,
    weights, dst, ...), maps each to an execute argument (`args`), says which it checks
    (`outputs`), and computes them in float64 (`reference`: an array for dst, or a dict of
    outputs)."""
    name = ""
    args = {"src": dnnl.ARG_SRC, "weights": dnnl.ARG_WEIGHTS, "bias": dnnl.ARG_BIAS,
            "dst": dnnl.ARG_DST}
    inplace_src = "src"     # the source --inplace=true makes dst share
    work_unit = "flops"     # what --mode=P divides by time: flops, or bytes moved

    def outputs(self, p, setup: Setup) -> tuple:
        return ("dst",)

    def fill(self, data: dict, p, setup: Setup) -> None:
        """Adjusts the seeded standard-normal data where the kind needs it (a variance
        must be positive)."""

    def unsupported(self, p, setup: Setup) -> str:
        return ""

    def arg(self, name: str) -> int:
        if name.startswith("post_op_"):          # post_op_<i>: binary post-op i's src1
            return dnnl.ARG_ATTR_MULTIPLE_POST_OP(int(name[8:])) | dnnl.ARG_SRC_1
        return self.args[name]

    def oc_axis(self, ndims: int) -> int:
        """The dst dim benchdnn's per_oc policy names."""
        return 1

    def post_op_src1(self, p, setup: Setup) -> dict:
        """{post-op index: src1 dims} of the binary post-ops (ValueError for a policy that
        names a dim dst lacks)."""
        dst = self.dims(p, setup)["dst"]
        return {i: src1_dims(op[1], dst, self.oc_axis(len(dst)))
                for i, op in enumerate(setup.post_ops) if op[0] == "binary"}

    def attr(self, p, setup: Setup) -> dnnl.primitive_attr:
        return attr_of(setup.post_ops, self.post_op_src1(p, setup))

    def work(self, p, setup: Setup) -> float:
        """flops (compute-bound kinds) or bytes read and written (memory-bound ones)."""
        return float(p.flops)

    def bytes_moved(self, p, setup: Setup) -> float:
        """f32 bytes of every array the primitive reads or writes once."""
        return 4.0 * sum(int(np.prod(d)) for d in self.dims(p, setup).values())


