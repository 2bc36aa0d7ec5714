"""The API and pages benchmark (``manage.py bench_api``): benchmark-only code."""
