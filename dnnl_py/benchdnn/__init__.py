"""A benchdnn-compatible driver (`python -m dnnl_py.benchdnn`): problem syntax
(problems.py), driver options (options.py), primitive kinds (driver_base.py, conv_matmul.py,
memory_bound.py; drivers.py lists them), numpy references (reference.py), correctness
and timing of one problem (run.py), the command line (cli.py), the report (report.py)."""
