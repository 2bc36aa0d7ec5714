"""Label pages for work order travelers and totes (``views``; routes in ``urls``)."""
