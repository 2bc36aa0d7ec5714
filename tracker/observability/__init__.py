"""Logs, metrics and request-id propagation."""
