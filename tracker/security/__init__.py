"""Security pieces of the foundation: login throttling, second factor, CSP helpers, spreadsheet safety."""
