"""The layout in a real browser: the phone menu, the skip link and tables whose key column stays in
view at 375 px."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE
from tests.browser.test_every_page import _log_in, shop  # noqa: F401
from tests.conftest import NOON
from tests.stripe_fixtures import stripe_account, stripe_agency, stripe_base, stripe_standin  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.now(NOON)]


def _console(live_server) -> str:
    return f"http://localhost:{live_server.thread.port}"


def test_console_links_fold_into_a_menu_on_a_phone(shop, live_server, new_page):  # noqa: F811
    page = new_page()
    _log_in(page, _console(live_server), shop["agency"].admin.email)
    nav = page.get_by_role("navigation", name="Main")
    menu = nav.get_by_text("Menu", exact=True)

    expect(menu).to_be_hidden()  # wide screen: every link in the bar
    expect(nav.get_by_role("link", name="Purchases")).to_be_visible()

    page.set_viewport_size(PHONE)
    expect(menu).to_be_visible()
    expect(nav.get_by_role("link", name="Purchases")).to_be_hidden()
    bar = page.locator("header.topbar").bounding_box()
    assert bar is not None and bar["height"] < 130  # one row for the brand, one for the menu button

    menu.focus()  # the keyboard opens it: no script involved
    page.keyboard.press("Enter")
    expect(nav.get_by_role("link", name="Purchases")).to_be_visible()
    nav.get_by_role("link", name="Purchases").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Purchases")
    expect(nav.locator('a[aria-current="page"]')).to_have_text("Purchases")


def test_skip_link_is_the_first_stop_and_moves_focus_to_the_content(shop, live_server, new_page):  # noqa: F811
    page = new_page()
    _log_in(page, _console(live_server), shop["agency"].admin.email)

    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.locator("main#content")).to_be_focused()


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/console/billing/purchases/", "Paid"),
        ("/console/users/", "Allocate"),
        ("/console/invoices/", "PDF"),
    ],
)
def test_tables_keep_their_key_column_in_view_on_a_phone(shop, live_server, new_page, path, key):  # noqa: F811
    page = new_page()
    _log_in(page, _console(live_server), shop["agency"].admin.email)
    page.set_viewport_size(PHONE)
    page.goto(_console(live_server) + path)

    cell = page.locator("main table tbody tr").first.get_by_text(key, exact=True).first
    expect(cell).to_be_visible()
    box = cell.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
    # Nothing is drawn over it: the middle columns scroll under the key column, not over it.
    centre = {"x": box["x"] + box["width"] / 2, "y": box["y"] + box["height"] / 2}
    assert cell.evaluate("(el, p) => el.contains(document.elementFromPoint(p.x, p.y))", centre)


def test_a_missing_page_on_a_portal_is_branded_and_accessible(shop, live_server, new_page, accessible):  # noqa: F811
    agency = shop["agency"]
    portal = f"http://{agency.slug}.localhost:{live_server.thread.port}"
    page = new_page()

    response = page.goto(f"{portal}/no-such-page/")

    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("We could not find that page")
    expect(page.get_by_role("link", name=f"Go to {agency.company_name}")).to_be_visible()
    icon = page.locator('link[rel="icon"]').get_attribute("href")
    assert icon and page.evaluate("url => fetch(url).then(r => r.ok)", icon)  # the browser resolves *.localhost
    for viewport in ({"width": 1280, "height": 800}, PHONE):
        page.set_viewport_size(viewport)
        accessible(page)
