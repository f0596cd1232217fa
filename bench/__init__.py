"""Benchmarks of the inference API; run from the repository root: python -m bench.api, python -m bench.overload."""
