"""Where the apps above plug into the core: navigation entries and dashboard panels.

``tracker`` never imports ``inventory``, ``wip`` or ``devices``; they register
here from their ``AppConfig.ready()``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class NavEntry:
    label: str
    url_name: str
    permission: str  # the model permission a user needs to see the entry
    order: int = 100


@dataclass(frozen=True)
class DashboardPanel:
    title: str
    template: str
    context: Callable[..., dict[str, Any]]  # (user=, site=) -> template context
    permission: str
    order: int = 100


NAV: list[NavEntry] = []
PANELS: list[DashboardPanel] = []


def register_nav(entry: NavEntry) -> None:
    if entry not in NAV:
        NAV.append(entry)
        NAV.sort(key=lambda e: e.order)


def register_panel(panel: DashboardPanel) -> None:
    if all(p.title != panel.title for p in PANELS):
        PANELS.append(panel)
        PANELS.sort(key=lambda p: p.order)
