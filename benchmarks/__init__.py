"""Benchmarks: they print figures; they are not tests (see benchmarks/README.md)."""
