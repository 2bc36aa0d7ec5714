"""Live pages: the asset finder ("where is it?") and the plant dashboard.

- ``selectors``: what the pages read (sightings, trails, the dashboard), scoped to the user.
- ``views``: the two pages; each re-renders its partial when a matching site event arrives.
- ``urls``: the routes (included from ``devices/urls.py`` under ``live/``) and their nav entries.
"""
