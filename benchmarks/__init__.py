"""Benchmarks: measured figures with their saved results in benchmarks/results/."""
