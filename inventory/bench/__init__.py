"""Benchmark-only code for inventory (never imported by the app)."""
