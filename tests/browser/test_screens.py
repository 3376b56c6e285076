"""The screens at a broker's two widths: a laptop (1366x900) and a phone (390x844).

What is measured is what the broker sees: nothing wider than the window, the default columns on
screen, the header row in view while the list scrolls, a card per contact on the phone with a
number to tap, no word wrapped mid-letter, and a shared link that a colleague opens. Expected
contacts come from the sandbox's records (tests/oracle.py).
"""

from __future__ import annotations

import pytest

pytest.importorskip("playwright.sync_api", reason="Playwright not installed")

from playwright.sync_api import Page, expect

from tests import oracle
from tests.browser.conftest import PASSWORD
from tests.browser.pages import assert_clean_console, log_in, look_up, rows, show_columns
from tests.dashboard_fixtures import DEFAULT_LIST_HEADERS, ids_range, make_credential

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
]

PHONE = pytest.mark.viewport(390, 844)
DEFAULT_HEADERS = list(DEFAULT_LIST_HEADERS)  # as they read, sort arrows left out

OVERFLOW_JS = "() => document.documentElement.scrollWidth - window.innerWidth"
# Words (split at spaces, hyphens and slashes) whose letters lie on more than one line.
BROKEN_WORDS_JS = """
root => {
  const broken = [];
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (const match of node.data.matchAll(/[^\\s\\-\\/]+/g)) {
      const range = document.createRange();
      range.setStart(node, match.index);
      range.setEnd(node, match.index + match[0].length);
      const lines = new Set([...range.getClientRects()].filter(r => r.width > 0)
        .map(r => Math.round(r.top)));
      if (lines.size > 1) broken.push(match[0]);
    }
  }
  return broken;
}
"""


# Press "Look up", then watch #working on this page until it says something (or 1.4 s pass):
# [its text, milliseconds after the press].
WHILE_LOADING_JS = """
() => new Promise(resolve => {
  const note = document.getElementById("working");
  const start = performance.now();
  new MutationObserver(() => {
    if (note.textContent) resolve([note.textContent, performance.now() - start]);
  }).observe(note, {childList: true, characterData: true, subtree: true});
  setTimeout(() => resolve([note.textContent, performance.now() - start]), 1400);
  document.querySelector("form.lookup-form button[type=submit]").click();
})
"""


def overflow(page: Page) -> int:
    """How many pixels the page is wider than the window (0: no sideways scrolling)."""
    return page.evaluate(OVERFLOW_JS)


def header_boxes(page: Page) -> dict[str, dict]:
    """Each header cell of the list by its text (sort arrows left out), with its box."""
    return page.locator("table.contacts thead th").evaluate_all(
        """ths => Object.fromEntries(ths.map(th => {
          const box = th.getBoundingClientRect();
          return [th.textContent.replace(/[\\u25b2\\u25bc]/g, "").trim(),
                  {left: box.left, right: box.right, top: box.top, bottom: box.bottom}];
        }))"""
    )


def test_the_register_on_a_laptop(live_server, page, console, office):
    user, _ = office
    log_in(page, live_server.url, user.username)
    expect(page.locator("table.contacts tbody tr")).to_have_count(50)
    assert overflow(page) == 0

    # Every default column on screen, left to right, none cut off.
    boxes = header_boxes(page)
    assert list(boxes) == DEFAULT_HEADERS
    width = page.viewport_size["width"]
    assert all(0 <= box["left"] < box["right"] <= width for box in boxes.values()), boxes

    # Scrolled down the list, the header row stays at the top of the window.
    page.mouse.wheel(0, 1500)
    page.wait_for_function("() => window.scrollY > 1000")
    name_header = header_boxes(page)["Name"]
    assert -1 <= name_header["top"] <= 1, name_header

    # The broker adds a column: it stays for them on the next visit, the page still fits.
    show_columns(page, "Lead score")
    assert list(header_boxes(page)) == [*DEFAULT_HEADERS[:6], "Lead score", *DEFAULT_HEADERS[6:]]
    page.goto(f"{live_server.url}/contacts/")
    assert "Lead score" in header_boxes(page)
    assert overflow(page) == 0

    assert_clean_console(console)


@PHONE
def test_the_register_on_a_phone(live_server, page, console, office):
    user, _ = office
    log_in(page, live_server.url, user.username)
    assert overflow(page) == 0

    # The filters are folded: the first contact is on the first screen, as a card.
    filters = page.locator(".filters-fold")
    expect(filters).not_to_have_attribute("open", "")
    expect(page.locator("#filter-q")).to_be_hidden()
    first = page.locator("table.contacts tbody tr").first
    box = first.bounding_box()
    assert box is not None and box["y"] + 40 < page.viewport_size["height"], box
    expect(page.locator("table.contacts thead")).not_to_be_in_viewport()
    assert box["width"] <= page.viewport_size["width"]

    # A card: name, type, phone to tap (the contact's own number), e-mail and city; the other
    # columns stay on the contact's page.
    shown = rows(page)
    records = oracle.records("M1002")
    with_phone = next(i for i, r in enumerate(shown) if r["tel"])
    card = page.locator("table.contacts tbody tr").nth(with_phone)
    record = records[shown[with_phone]["id"]]
    number = oracle.primary_phone(record)
    tel = card.locator('a[href^="tel:"]')
    expect(tel).to_be_visible()
    expect(tel).to_have_attribute("href", oracle.tel_href(oracle.phone_e164(number)))
    assert oracle.digits(tel.inner_text()) == oracle.national_digits(number)
    tap = tel.bounding_box()
    assert tap is not None and tap["height"] >= 24, tap  # a finger's target
    expect(card.locator(".col-type")).to_have_text(shown[with_phone]["type"])
    for hidden in ("categories", "gdpr", "changed"):
        expect(card.locator(f".col-{hidden}")).to_be_hidden()

    # The folded filters open with a tap and work.
    filters.locator("> summary").click()
    expect(page.locator("#filter-q")).to_be_visible()
    assert overflow(page) == 0

    assert_clean_console(console)


@pytest.mark.parametrize("width", [1366, 390])
def test_a_contacts_page_fits_and_never_breaks_a_word(
    live_server, page, console, make_user, vitec, width
):
    page.set_viewport_size({"width": width, "height": 900 if width > 700 else 844})
    user = make_user("broker")
    make_credential(user, customer_id="M1001")
    # Every row this test needs is written before the browser starts: the live server shares
    # the test's in-memory SQLite connection, which two threads must not use at once.
    admin = make_user("screen-admin", superuser=True)
    log_in(page, live_server.url, user.username)
    # A person with the longest e-mail address: the longest unbroken word of a contact's page.
    records = oracle.records("M1001")
    person = max(
        (r for r in records.values() if r["type"] == "Person" and oracle.email(r)),
        key=lambda r: len(oracle.email(r)),
    )
    page.goto(f"{live_server.url}/contacts/{person['id']}/?customer=M1001")
    expect(page.get_by_role("heading", level=1)).to_contain_text(oracle.name(person))
    assert overflow(page) == 0
    assert page.locator("main").evaluate(BROKEN_WORDS_JS) == []
    expect(page.get_by_role("link", name=oracle.email(person), exact=True)).to_be_visible()

    # The admin's pages fit too (an administrator on the same laptop or phone).
    log_in_to_the_admin(page, live_server, admin.username)
    assert overflow(page) == 0
    page.goto(f"{live_server.url}/admin/contacts/viteccredential/")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert overflow(page) == 0

    assert_clean_console(console)


def log_in_to_the_admin(page: Page, live_server, username: str) -> None:
    """The admin index, logged in through the admin's form in the same browser context."""
    page.context.clear_cookies()
    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()


def test_a_colleague_opens_a_shared_link_to_a_long_list(
    live_server, page, console, make_user, vitec, browser
):
    """A list too long for a URL travels by a saved list: the link opens the same contacts for
    a colleague who has their own credential for the customer."""
    sender = make_user("sender")
    make_credential(sender, customer_id="M1001")
    colleague = make_user("colleague")
    make_credential(colleague, customer_id="M1001", label="Min")
    ids = ids_range(1, 150)  # more than a URL carries
    log_in(page, live_server.url, sender.username)
    look_up(page, ids)
    link = page.url
    assert "list=" in link and "customer=M1001" in link and "credential" not in link
    sent = [r["id"] for r in rows(page)]

    other = browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-US")
    try:
        theirs = other.new_page()
        log_in(theirs, live_server.url, colleague.username)
        theirs.goto(link)
        expect(theirs.locator("#results-heading")).to_have_text("150 contacts")
        assert [r["id"] for r in rows(theirs)] == sent == ids[:50]
    finally:
        other.close()

    assert_clean_console(console)


def test_a_slow_lookup_says_that_it_is_working(live_server, page, console, make_user, vitec):
    """Vitec answering in 1.5 s: after a second the page says it is fetching, until the
    results arrive."""
    user = make_user("broker")
    make_credential(user, customer_id="M1001")
    log_in(page, live_server.url, user.username)
    working = page.locator("#working")
    expect(working).to_be_hidden()
    vitec.configure(latency_ms=1500)
    page.get_by_label("Contact ids").fill("\n".join(ids_range(1, 5)))
    # Pressed from the page itself, which reports what #working says while the next page loads.
    said, after = page.evaluate(WHILE_LOADING_JS)
    assert said == "Working: fetching contacts from Vitec\u2026"
    assert 900 <= after < 1400, after
    expect(page.locator("#results-heading")).to_have_text("5 contacts", timeout=10_000)
    expect(working).to_be_hidden()

    assert_clean_console(console)


def test_a_long_lookup_shows_its_first_answers_without_javascript(
    live_server, browser, make_user, vitec, reference
):
    """300 ids, Vitec at 0.6 s a call, 4 calls at once (four rounds), the browser's JavaScript
    off: the first contacts are on screen while the rest are still coming, with their count;
    then the whole view, its first 50 rows sorted, replaces them."""
    user = make_user("broker")
    make_credential(user, customer_id="M1001")
    context = browser.new_context(
        java_script_enabled=False, locale="en-US", extra_http_headers={"Accept-Language": "en"}
    )
    page = context.new_page()
    try:
        log_in(page, live_server.url, user.username)
        vitec.configure(latency_ms=600)
        ids = ids_range(1, 300)
        page.goto(
            f"{live_server.url}/contacts/?customer=M1001&sort=name&ids={','.join(ids)}",
            wait_until="commit",
        )
        arriving = page.locator(".arriving tbody tr")
        expect(arriving.first).to_be_visible(timeout=10_000)
        assert page.locator(".results-layout").count() == 0  # the rest is still coming
        count = page.locator(".arriving-count").last
        expect(count).to_be_visible()
        assert count.inner_text().endswith("still to come.") and " of 300 ids" in count.inner_text()
        assert page.locator(".arriving-count:visible").count() == 1  # only the latest count

        expect(page.locator("#results-heading")).to_have_text("300 contacts", timeout=15_000)
        expect(page.locator(".arriving")).to_be_hidden()
        expected = sorted(ids, key=lambda i: oracle.swedish_order(reference[i]))[:50]
        assert [row["id"] for row in rows(page)] == expected
    finally:
        context.close()
