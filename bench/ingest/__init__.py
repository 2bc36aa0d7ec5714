"""The ingestion benchmark (``python -m bench ingest``): benchmark-only code."""
