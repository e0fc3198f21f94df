"""The OpenCL engine (pyopencl): runtime.py holds an engine's device, context, memory and
programs; gemm.py the convolution and matmul implementations; reorder.py the reorder;
kernels/ the OpenCL C sources."""
