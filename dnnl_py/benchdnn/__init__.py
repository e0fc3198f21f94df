"""A benchdnn-compatible driver: problem parsing (problems.py)."""
