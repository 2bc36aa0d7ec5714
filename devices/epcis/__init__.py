"""GS1 EPCIS 2.0 for partners: capture into the ledger and WIP, query out of them.

``capture/`` turns a validated EPCIS document into the same service calls as
the device pipeline; ``records.py`` keeps what an event says besides ledger
effects (sensor reports, associations, error declarations); ``unresolved.py``
keeps the identifiers capture could not resolve until their master data arrives;
``query.py`` (parameters in ``query_params.py``) renders Shopfloor's own moves and
WIP steps as EPCIS events; ``mapping.py`` holds the vocabularies and identifier
forms all of them use.
"""
