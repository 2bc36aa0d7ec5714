"""The demo plant: a Django app enabled only for ``make demo`` (``SHOPFLOOR_DEMO=1``) and the tests.

- ``simulator``: the discrete-event model of the floor, the vendor-format writers, the layout
  and seed of the demo plant, and the runner that drives a running Shopfloor.
- ``management/commands``: ``demo`` (server + worker + simulated readers in one command),
  ``seed_demo`` (the plant and its users, idempotent) and ``simulate`` (the simulator alone).

It has no models, no URLs and nothing the other apps import: production never installs it.
"""
