"""The live floor in a real browser: pages change by themselves when devices and
operators act, and another site's user sees none of it."""

from __future__ import annotations

import datetime as dt
import re

import httpx
import pytest

from demo.simulator import layout, writers

pytestmark = pytest.mark.browser

LIVE_TIMEOUT = 15_000  # ms: an upload's effect must reach the page well within this


def _column(page, station: str):
    return page.locator("#wip-board section.column", has=page.locator("h3", has_text=station))


def _wait_live(page) -> None:
    page.wait_for_selector("#live-status.on", timeout=LIVE_TIMEOUT)


def test_card_moves_to_the_next_station_when_its_tote_is_read(page_for, plant, artifacts):
    page = page_for("supervisor")
    page.goto("/wip/")
    _wait_live(page)
    card = page.locator(".wo-card", has_text=plant["moving"])
    card.wait_for()
    assert _column(page, "DP-WELD").locator(".wo-card", has_text=plant["moving"]).count() == 0
    page.evaluate("window.__sameDocument = true")

    # The welding antenna (port 2 of the line 1 Zebra reader) sees the order's tote for 3 s.
    now = dt.datetime.now(dt.UTC)
    # Reads start now: an arrival dated before the order finished cutting (in the fixture)
    # would rightly be ignored as stale.
    reads = [writers.Read(layout.tote_epc(1), 2, now + dt.timedelta(seconds=1.1 * k), -45, 3) for k in range(4)]
    response = httpx.post(
        f"{plant['url']}/api/v1/devices/uploads/",
        content=writers.zebra_iotc(reads, first_event_num=1),
        headers={"Authorization": f"Bearer {plant['keys']['DP-ZR-LINE1']}", "Content-Type": "application/json"},
    )
    assert response.status_code == 202, response.text

    moved = _column(page, "DP-WELD").locator(".wo-card", has_text=plant["moving"])
    moved.wait_for(timeout=LIVE_TIMEOUT)
    assert page.evaluate("window.__sameDocument") is True  # no reload: htmx swapped the board in place
    page.screenshot(path=str(artifacts / "wip-board.png"), full_page=True)


def test_operator_starts_and_completes_a_step_on_the_station_page(page_for, plant):
    page = page_for("operator")
    page.goto("/wip/stations/DP-CUT/")
    job = page.locator("#station-queue article.job", has_text=plant["queued"])
    job.wait_for()
    job.get_by_role("button", name="Start").click()
    job = page.locator("#station-queue article.job", has_text=plant["queued"])
    job.get_by_role("button", name=re.compile(r"^Complete all")).wait_for()
    assert "Running" in job.inner_text()
    job.get_by_role("button", name=re.compile(r"^Complete all")).click()
    page.locator("#station-queue article.job", has_text=plant["queued"]).wait_for(state="detached")
    # The order went on to its next step (painting's queue, until its tote is read there).
    page.goto(f"/wip/work-orders/{plant['queued']}/")
    assert page.locator("body").inner_text().count("Painting") >= 1


def test_station_state_panel_follows_a_stop_made_elsewhere(page_for, plant, artifacts):
    """The operator's open station page: a supervisor stops the station (and resumes it) from
    another browser; the panel's state and its Stop / Resume buttons follow without a reload."""
    from playwright.sync_api import expect

    page = page_for("operator")
    page.goto("/wip/stations/DP-PACK/")
    _wait_live(page)
    page.evaluate("window.__sameDocument = true")
    mine = page.locator("#station-state")
    other = page_for("supervisor")
    other.goto("/wip/stations/DP-PACK/")
    theirs = other.locator("#station-state")
    if theirs.get_by_role("button", name="Resume").count():  # the simulated shift left it stopped
        theirs.get_by_role("button", name="Resume").click()
        other.wait_for_load_state()
        expect(mine.get_by_role("button", name="Resume")).to_have_count(0, timeout=LIVE_TIMEOUT)

    theirs = other.locator("#station-state")
    theirs.get_by_label("Stop reason").select_option(index=1)
    reason = theirs.get_by_label("Stop reason").evaluate("s => s.options[s.selectedIndex].text")
    theirs.get_by_role("button", name="Stop").click()
    other.wait_for_load_state()

    expect(mine.get_by_role("button", name="Resume")).to_be_visible(timeout=LIVE_TIMEOUT)
    expect(mine.locator(".open-stop")).to_contain_text(reason)
    assert page.evaluate("window.__sameDocument") is True  # htmx swapped the panel in place
    page.screenshot(path=str(artifacts / "station-stopped.png"), full_page=True)

    other.locator("#station-state").get_by_role("button", name="Resume").click()
    other.wait_for_load_state()
    expect(mine.get_by_role("button", name="Resume")).to_have_count(0, timeout=LIVE_TIMEOUT)
    expect(mine.locator(".open-stop")).to_have_count(0)
    assert page.evaluate("window.__sameDocument") is True


def test_plant_dashboard_and_finder(page_for, plant, artifacts):
    page = page_for("manager")
    page.goto("/devices/live/plant/")
    page.locator("#plant-stations tr[data-station=DP-PAINT]").wait_for()
    page.screenshot(path=str(artifacts / "plant-dashboard.png"), full_page=True)
    page.goto(f"/devices/live/find/?q={plant['moving']}")
    result = page.locator(".finder-result[data-kind=work_order]")
    result.wait_for()
    assert plant["moving"] in result.inner_text()


def test_user_of_another_site_does_not_see_the_plant(page_for, plant):
    page = page_for("outsider")
    page.goto("/wip/")
    text = page.locator("body").inner_text()
    assert "Demo Plant" not in text and plant["moving"] not in text
    assert page.goto("/wip/stations/DP-CUT/").status == 404
    assert page.goto(f"/wip/work-orders/{plant['moving']}/").status == 404
    page.goto("/devices/live/find/?q=TOTE-01")
    assert "Nothing at Other Plant" in page.locator("#finder-results").inner_text()
    # Its browser cannot even subscribe to the plant's stream.
    code = page.evaluate("""() => new Promise((resolve) => {
        const ws = new WebSocket(`ws://${location.host}/ws/sites/demo-plant/`);
        ws.onclose = (ev) => resolve(ev.code);
        setTimeout(() => resolve("open"), 5000);
    })""")
    # Refused during the handshake (the browser reports 1006), or closed with 4403 right after.
    assert code in (1006, 4403)
