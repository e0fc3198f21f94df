"""The model layer: ONNX in (read.py), a plan of primitives over one arena (compile.py),
a content-keyed cache entry (cache.py), OpenVINO's Core API (core.py). Built on the
public primitive API only; see docs/models.md."""
from .core import CompiledModel, Core, InferRequest, Results, Tensor
from .read import Model, Port, read_model

__all__ = ["CompiledModel", "Core", "InferRequest", "Model", "Port", "Results", "Tensor",
           "read_model"]
