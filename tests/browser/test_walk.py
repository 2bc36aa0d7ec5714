"""Every role walks the running demo plant in a real browser, at desktop, station-tablet
and phone sizes: every page its navigation offers answers without a 4xx/5xx or a console
error, fits a phone's width, shows no number in scientific notation and no time without
its zone; then each role does its key task (as far as the pages offer it).

Kept to a few minutes: one browser context per role and size, pages visited once each.
"""

from __future__ import annotations

import re

import pytest

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = pytest.mark.browser

ROLES = ("manager", "planner", "supervisor", "operator", "clerk", "inspector", "viewer")
SIZES = {
    "desktop": {"width": 1440, "height": 900},
    "tablet": {"width": 800, "height": 1280},
    "phone": {"width": 390, "height": 844},
}
# Each role on a phone and a desktop; the station tablet is the floor's: operator and supervisor.
WALKS = [(role, size) for role in ROLES for size in ("desktop", "phone")] + [
    ("operator", "tablet"),
    ("supervisor", "tablet"),
]
SCIENTIFIC = re.compile(r"(?<![\w.])\d+(?:\.\d+)?[eE][+-]?\d+\b")
# A clock time (07:41, 07:41:05) must be followed by its zone (CET, UTC, +01:00) — except in a
# range's first half ("06:00-14:00 CET") or a typed-in value.
CLOCK = re.compile(r"(?<![:\w])\d{1,2}:\d{2}(?::\d{2})?(?![:\w])(?!\s*[-–]\s*\d)(?!\s*(?:[A-Z]{2,5}\b|[+-]\d{2}))")


def _login(browser, plant, username: str, size: str):
    context = browser.new_context(base_url=plant["url"], viewport=SIZES[size])
    context.set_default_timeout(15_000)
    page = context.new_page()
    problems: list[str] = []
    page.on(
        "console",
        lambda m: (
            problems.append(f"console {m.type}: {m.text} ({m.location.get('url', '')})") if m.type == "error" else None
        ),
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on(
        "response",
        lambda r: (
            problems.append(f"{r.status} {r.url}")
            if r.status >= 400 and r.url.startswith(plant["url"]) and "/ws/" not in r.url
            else None
        ),
    )
    page.goto("/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "shopfloor-demo")
    page.click("button[type=submit]")
    page.wait_for_url(lambda u: "/accounts/login" not in u)
    return context, page, problems


def _nav_links(page) -> list[str]:
    hrefs = page.eval_on_selector_all("nav.nav a[href]", "els => els.map(e => e.getAttribute('href'))")
    return sorted({h for h in hrefs if h.startswith("/") and not h.startswith("/admin")})


def _check_page(page, url: str, size: str) -> list[str]:
    found = []
    response = page.goto(url)
    if response is None or response.status >= 400:
        found.append(f"{url}: {response.status if response else 'no response'}")
        return found
    text = page.locator("main").inner_text()
    for match in SCIENTIFIC.finditer(text):
        found.append(f"{url}: scientific notation {match.group(0)!r}")
    for match in CLOCK.finditer(text):
        context = text[max(match.start() - 20, 0) : match.end() + 12].replace("\n", " ")
        found.append(f"{url}: a time without its zone: …{context}…")
    if size == "phone":
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        if overflow > 1:
            found.append(f"{url}: {overflow}px wider than the phone")
    return found


@pytest.mark.parametrize(("role", "size"), WALKS, ids=[f"{r}-{s}" for r, s in WALKS])
def test_every_page_of_the_role_is_sound(browser, plant, artifacts, role, size):
    context, page, problems = _login(browser, plant, role, size)
    try:
        links = _nav_links(page)
        assert links, f"{role} is offered no page"
        found: list[str] = []
        for url in links:
            found += _check_page(page, url, size)
        if size == "phone":
            rows = page.evaluate(
                """() => [...document.querySelectorAll('header.topbar > *')].filter(e => e.offsetParent !== null)
                    .map(e => e.getBoundingClientRect()).map(r => r.top + r.height / 2)"""
            )
            assert max(rows) - min(rows) < 20, f"the phone header is more than one line: {rows}"
            small = page.evaluate(
                """() => [...document.querySelectorAll('main button, main a.button, main select, main input:not([type=hidden]):not([type=radio]):not([type=checkbox]), header label')]
                    .filter(e => e.offsetParent !== null)
                    .map(e => [e.outerHTML.slice(0, 60), e.getBoundingClientRect().height])
                    .filter(([, h]) => h < 43.5)"""
            )
            found += [f"{page.url}: tap target {h:.0f}px: {html}" for html, h in small]
        page.screenshot(path=str(artifacts / f"walk-{role}-{size}.png"), full_page=False)
        assert not found and not problems, "\n".join(found + problems)
    finally:
        context.close()


def _choose_routing(page, sku: str) -> None:
    value = page.eval_on_selector(
        "select[name=routing]", "(s, sku) => [...s.options].find(o => o.text.startsWith(sku)).value", sku
    )
    page.select_option("select[name=routing]", value)


def test_planner_creates_and_releases_an_order(browser, plant):
    context, page, problems = _login(browser, plant, "planner", "desktop")
    try:
        page.goto("/wip/work-orders/")
        page.get_by_role("link", name="New work order").click()
        _choose_routing(page, "DP-SHELF")
        page.fill("input[name=quantity]", "2")
        page.fill("input[name=number]", "WO-WALK-1")
        page.check("input[name=release]")
        page.get_by_role("button", name="Plan the order").click()
        page.wait_for_url("**/wip/work-orders/WO-WALK-1/")
        assert "Released" in page.locator("h1").inner_text()
        assert not problems, problems
    finally:
        context.close()


def test_operator_starts_completes_and_reports_a_defect(browser, plant):
    # The planner's order (above) if it ran first, else one planned here through the page.
    context, page, problems = _login(browser, plant, "planner", "desktop")
    page.goto("/wip/work-orders/new/")
    _choose_routing(page, "DP-SHELF")
    page.fill("input[name=quantity]", "3")
    page.fill("input[name=number]", "WO-WALK-2")
    page.get_by_role("button", name="Plan the order").click()
    page.wait_for_url("**/wip/work-orders/WO-WALK-2/")
    context.close()
    context, page, problems = _login(browser, plant, "operator", "tablet")
    try:
        page.goto("/wip/stations/DP-CUT/")
        page.fill("input[name=traveler]", "WO-WALK-2")
        page.get_by_role("button", name="Arrived here").click()
        job = page.locator("#station-queue article.job", has_text="WO-WALK-2")
        job.get_by_role("button", name="Start").click()
        job = page.locator("#station-queue article.job", has_text="WO-WALK-2")
        job.get_by_role("button", name=re.compile(r"^Complete all")).wait_for()
        job.locator("summary", has_text="Record a defect").click()
        job.locator("select[name=code]").select_option("DENT")
        job.locator("input[name=quantity]").first.fill("1")
        job.get_by_role("button", name="Record").click()
        expect(page.locator(".messages")).to_contain_text("Defect recorded")
        job = page.locator("#station-queue article.job", has_text="WO-WALK-2")
        job.get_by_role("button", name=re.compile(r"^Complete all")).click()
        page.locator("#station-queue article.job", has_text="WO-WALK-2").wait_for(state="detached")
        assert not problems, problems
    finally:
        context.close()
    # The inspector finds it among the open defects and decides it.
    context, page, problems = _login(browser, plant, "inspector", "desktop")
    try:
        page.goto("/wip/quality/")
        row = page.locator("#defects tr", has_text="WO-WALK-2")
        row.locator("select[name=disposition]").select_option("use_as_is")
        row.get_by_role("button", name="Decide").click()
        expect(page.locator(".messages")).to_contain_text("decided")
        assert page.locator("#defects tr", has_text="WO-WALK-2").count() == 0
        assert not problems, problems
    finally:
        context.close()


def test_inspector_records_an_inspection(browser, plant):
    context, page, problems = _login(browser, plant, "inspector", "desktop")
    try:
        page.goto("/wip/quality/")
        page.locator("#pending tr", has_text=plant["inspection"]).get_by_role("link", name="Inspect").click()
        for fieldset in page.locator("fieldset.passfail").all():
            fieldset.locator("input[value=pass]").check()
        for field in page.locator("form.inspection input[inputmode=decimal][required]").all():
            field.fill("1")
        page.get_by_role("button", name="Record the inspection").click()
        page.wait_for_url("**/wip/quality/")
        expect(page.locator(".messages")).to_contain_text(plant["inspection"])
        assert not problems, problems
    finally:
        context.close()


def test_manager_reads_a_bottleneck_that_names_painting(browser, plant, artifacts):
    context, page, problems = _login(browser, plant, "manager", "desktop")
    try:
        page.goto("/wip/bottlenecks/")
        text = page.locator("p.bottleneck").inner_text()
        assert text.startswith("DP-PAINT"), text
        page.screenshot(path=str(artifacts / "walk-bottlenecks.png"), full_page=True)
        assert not problems, problems
    finally:
        context.close()


def test_clerk_receives_goods(browser, plant):
    context, page, problems = _login(browser, plant, "clerk", "phone")
    try:
        page.goto("/inventory/receive/")
        page.fill("input[name=item]", "DP-CASTER")
        page.fill("input[name=quantity]", "10")
        page.fill("input[name=location]", "DP-STORES")
        page.get_by_role("button", name="Receive").click()
        expect(page.locator(".messages")).to_contain_text("Received 10")
        assert not problems, problems
    finally:
        context.close()


def test_clerk_finds_a_lot_from_the_search_box(browser, plant):
    """The header's search box on a phone: a lot's code typed in full opens its trace page; part of a
    code lists the matches, grouped by kind, each a link to its page."""
    context, page, problems = _login(browser, plant, "clerk", "phone")
    try:
        page.goto("/inventory/")
        box = page.locator("header form.search-box input[name=q]")
        box.fill("TUBE-2611A")
        box.press("Enter")
        page.wait_for_url(lambda u: "/inventory/trace/" in u)
        assert "lot=DP-TUBE-30%2FTUBE-2611A" in page.url, page.url
        expect(page.locator("main")).to_contain_text("TUBE-2611A")
        box = page.locator("header form.search-box input[name=q]")
        box.fill("tube-26")
        box.press("Enter")
        page.wait_for_url(lambda u: "/search/" in u)
        expect(page.locator("#search-lots")).to_contain_text("TUBE-2611B")
        page.locator("#search-lots a", has_text="TUBE-2611B").click()
        page.wait_for_url(lambda u: "/inventory/trace/" in u and "TUBE-2611B" in u)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{overflow}px wider than the phone"
        assert not problems, problems
    finally:
        context.close()


def test_a_phone_shows_the_analytics_menu_separated(browser, plant):
    context, page, problems = _login(browser, plant, "manager", "phone")
    try:
        page.goto("/wip/analytics/")
        menu = page.locator("nav.subnav").inner_text().replace("\xa0", " ")
        assert menu.count(" · ") == page.locator("nav.subnav a").count() - 1, menu
        assert not menu.lstrip().startswith("·"), menu
        assert not problems, problems
    finally:
        context.close()


def test_a_phone_shows_a_stations_oee_as_two_by_two(browser, plant):
    context, page, problems = _login(browser, plant, "supervisor", "phone")
    try:
        page.goto("/wip/stations/DP-CUT/")
        boxes = [t.bounding_box() for t in page.locator("#station-state .tiles .tile").all()]
        assert len(boxes) == 4
        rows = sorted({round(b["y"]) for b in boxes})
        assert len(rows) == 2, f"the four OEE tiles are not two rows of two: {boxes}"
        assert not problems, problems
    finally:
        context.close()
