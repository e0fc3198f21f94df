"""What every OpenCL implementation with a program of its own shares (ocl/gemm.py, and
the kinds after it): the kernel is one program, built from `program_sources` with
program_options(params) in the build worker (ocl/program.py) and launched once there with
the kernel object's real launch shapes; a failed build declines to the next
implementation; the blob holds the program binary and what it was built from, so a
binary of other options (another blocking, another implementation) is refused."""
from __future__ import annotations

import hashlib

import pyopencl as cl

from .._errors import error, invalid
from ..impl import Decline, Impl
from . import program as ocl_program


class OclProgramImpl(Impl):
    """Subclasses give program_sources, program_options(params), new_kernel(params) (an
    object with launches(*launch_args()), bind(program, binary) and binary()) and
    launch_args()."""
    program_sources: tuple = ()

    def program_options(self, params: tuple) -> str:
        raise NotImplementedError

    def new_kernel(self, params: tuple):
        raise NotImplementedError

    def launch_args(self) -> tuple:
        """What the kernel's launches() takes: the sizes of the scratch buffers."""
        raise NotImplementedError

    def make_kernel(self, params: tuple):
        rt, kernel = self.runtime, self.new_kernel(params)
        kernel.params = params
        try:
            built = ocl_program.build(rt.device, rt.context,
                                      ocl_program.source(*self.program_sources),
                                      self.program_options(params),
                                      kernel.launches(*self.launch_args()), self.name)
        except error as e:
            raise Decline(str(e)) from None
        return kernel.bind(*built)

    def build_id(self, params: tuple) -> bytes:
        """What a program binary was built from: its source and options."""
        text = ocl_program.source(*self.program_sources) + "\0" + self.program_options(params)
        return hashlib.sha256(text.encode()).hexdigest().encode()

    def kernel_from_blob(self, params: tuple, records: dict, what: str):
        if records.get("build") != self.build_id(params):
            raise invalid(f"{what}: its program was built from another source or options")
        rt = self.runtime
        data = records.get("program", b"")
        program = ocl_program.from_binary(rt.context, rt.device, data,
                                          self.program_options(params), what)
        kernel = self.new_kernel(params)
        kernel.params = params
        try:
            return kernel.bind(program, data)
        except cl.Error as e:
            raise invalid(f"{what}: the program binary lacks its kernel ({e})") from None

    def blob_records(self, kernel) -> dict:
        return {"program": kernel.binary(), "build": self.build_id(kernel.params)}
