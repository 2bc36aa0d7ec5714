"""Label pages for items, lots, serial units and locations (``views``; routes in ``urls``)."""
