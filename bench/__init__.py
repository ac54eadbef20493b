"""Benchmarks: `make bench` (or `python -m bench`) prints and saves a report."""
