"""WIP reports per site and period, their pages, exports and API.

- ``reports``: the report functions ``(site, start, end, **options) -> Report`` and ``REPORTS``.
- ``views``: the report pages and the report API (rendering shared with ``inventory.analytics``);
  ``urls`` and ``api_urls`` route them.

``from wip import analytics`` keeps giving the report functions and ``REPORTS``.
"""

from wip.analytics.reports import REPORTS, defect_pareto, on_time, quality, throughput, utilisation

__all__ = ["REPORTS", "defect_pareto", "on_time", "quality", "throughput", "utilisation"]
