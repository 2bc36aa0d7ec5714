"""The CPU-per-request benchmark (``python -m bench cpu``): benchmark-only code.

``seed`` builds the data through the services (reusing the API benchmark's
seeding), ``paths`` says what each measured request sends, ``measure`` drives
them in-process through Django's test client and ``baseline`` keeps the
figures in ``bench/baselines/cpu.json``. ``tests/test_request_cost.py`` runs
the same paths with one or two iterations and checks their query counts.
"""
