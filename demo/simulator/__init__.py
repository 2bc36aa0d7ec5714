"""The demo plant's simulator: a discrete-event model of the floor (``model``),
vendor-format upload writers (``writers``), the plant layout shared with the
seed (``layout``) and the runner that drives a running Shopfloor (``runner``).

The simulator is a client of the system like any reader or operator: tag
movements and sensor data reach Shopfloor only as reader uploads in real vendor
formats through the device endpoint; operators' clicks go through ``wip``
services, exactly as the station page's would.
"""
