"""The benchmarks, one Django ``BaseCommand`` each, run by ``python -m bench <name>``."""
