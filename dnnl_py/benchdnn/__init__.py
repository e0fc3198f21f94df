"""A benchdnn-compatible driver (`python -m dnnl_py.benchdnn`): problem syntax
(problems.py), primitive kinds (drivers.py), numpy references (reference.py), correctness
and timing of one problem (run.py), the command line (cli.py), the report (report.py)."""
