"""Benchmarks: code the application never imports, and no installed app.

Run with ``python -m bench`` (``make bench``; see ``bench/cli.py``).

- ``commands``: the benchmarks themselves (``api``, ``ingest``, ``reports``, ``cpu``; ``seed_ledger``
  prepares the 10-million-move ledger; ``live_latency`` times upload -> page event).
- ``api``: the API and pages benchmark's seed, scenarios, load client and server control.
- ``cpu``: the CPU-per-request benchmark's seed, paths, in-process measurement and baseline
  (``baselines/cpu.json``, checked by ``tests/test_request_cost.py``).
- ``ingest``: the synthetic plant, the per-read ORM baseline and the phases of the ingestion benchmark.
- ``ledger``, ``dbs``: the benchmark ledger generator and the throwaway PostgreSQL databases.
"""
