"""The API and pages benchmark (``python -m bench api``): benchmark-only code."""
