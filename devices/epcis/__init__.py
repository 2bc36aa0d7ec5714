"""GS1 EPCIS 2.0 for partners: capture into the ledger and WIP, query out of them.

``capture.py`` turns a validated EPCIS document into the same service calls as
the device pipeline; ``query.py`` renders Shopfloor's own moves and WIP steps as
EPCIS events; ``mapping.py`` holds the vocabularies and identifier forms both use.
"""
