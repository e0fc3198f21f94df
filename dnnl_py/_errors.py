"""dnnl::error and dnnl_status_t: every failure the library reports is an `error` with
a `status`. Statuses become exceptions here and nowhere else."""
import enum


class status(enum.IntEnum):
    """dnnl_status_t."""
    success = 0
    out_of_memory = 1
    invalid_arguments = 2
    unimplemented = 3
    last_impl_reached = 4
    runtime_error = 5
    not_required = 6


class error(RuntimeError):
    """dnnl::error: a failed call, with the status oneDNN would return."""

    def __init__(self, status_: status, message: str):
        super().__init__(f"{status_.name}: {message}")
        self.status = status_
        self.message = message


def invalid(message: str) -> error:
    return error(status.invalid_arguments, message)


def unimplemented(message: str) -> error:
    return error(status.unimplemented, message)
