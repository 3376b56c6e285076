"""Keyboard and accessibility smoke tests: the skip link, keyboard-only lookup, labelled controls,
and a console free of errors and Content Security Policy reports.
"""

from __future__ import annotations

import pytest

pytest.importorskip("playwright.sync_api", reason="Playwright not installed")

from playwright.sync_api import Page, expect

from tests.browser.pages import assert_clean_console, log_in, look_up, rows
from tests.dashboard_fixtures import cid, ids_range, make_credential, missing_id

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
]

# Every visible form control, and how it is labelled: by <label for>, by a wrapping <label>,
# by aria-label or aria-labelledby. Controls with none come back with how="".
CONTROLS_JS = """
() => [...document.querySelectorAll("input, select, textarea")]
  .filter(el => el.type !== "hidden")
  .map(el => {
    const forLabel = el.id && document.querySelector(`label[for="${CSS.escape(el.id)}"]`);
    const wrapping = el.closest("label");
    const labelledby = (el.getAttribute("aria-labelledby") || "").split(/\\s+/)
      .map(id => id && document.getElementById(id)).filter(Boolean);
    const text = forLabel ? forLabel.textContent
      : wrapping ? wrapping.textContent
      : el.getAttribute("aria-label") || labelledby.map(n => n.textContent).join(" ");
    const how = forLabel ? "for" : wrapping ? "wrapping" : el.getAttribute("aria-label")
      ? "aria-label" : labelledby.length ? "aria-labelledby" : "";
    return {
      control: el.outerHTML.slice(0, 120),
      how,
      text: (text || "").trim(),
    };
  })
"""
BUTTONS_JS = """
() => [...document.querySelectorAll("button, input[type=submit]")]
  .filter(b => !(b.textContent || b.value || b.getAttribute("aria-label") || "").trim())
  .map(b => b.outerHTML.slice(0, 120))
"""


def active_element(page: Page) -> dict:
    return page.evaluate(
        """() => { const el = document.activeElement;
                   return {tag: el.tagName.toLowerCase(), id: el.id, cls: el.className,
                           text: (el.textContent || "").trim().slice(0, 40)}; }"""
    )


def assert_skip_link_first(page: Page) -> None:
    """The first Tab focuses the skip link, shown on screen; Enter moves focus to main."""
    page.keyboard.press("Tab")
    focused = active_element(page)
    assert focused["cls"] == "skip-link", f"the first tab stop is {focused}"
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()  # off-screen until focused, then visible
    page.keyboard.press("Enter")
    expect(page.locator("main#main")).to_be_focused()
    assert page.url.endswith("#main")


def assert_controls_labelled(page: Page) -> list[dict]:
    controls = page.evaluate(CONTROLS_JS)
    assert controls, "no form controls on the page"
    unlabelled = [c["control"] for c in controls if not c["how"] or not c["text"]]
    assert not unlabelled, "form controls without a label:\n" + "\n".join(unlabelled)
    nameless = page.evaluate(BUTTONS_JS)
    assert not nameless, "buttons without a name:\n" + "\n".join(nameless)
    return controls


def test_keyboard_user_skips_to_content_and_looks_up_ids(
    live_server, page, console, make_user, vitec
):
    user = make_user("keyboard")
    make_credential(user, customer_id="M1001")

    # The login page: its controls labelled. Django's login form autofocuses the user name, so
    # there the first Tab goes to the password, not to the skip link (see the report).
    page.goto(f"{live_server.url}/accounts/login/")
    expect(page.get_by_label("User name")).to_be_focused()
    assert_controls_labelled(page)

    log_in(page, live_server.url, user.username)

    # The contacts page, by keyboard only: skip to main, Tab into the ids, type, Tab, Enter.
    assert_skip_link_first(page)
    page.keyboard.press("Tab")
    ids_box = page.get_by_label("Contact ids")
    expect(ids_box).to_be_focused()
    page.keyboard.type(f"{cid(1)}, {cid(2)}\n{cid(3)}")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Look up")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#results-heading")).to_have_text("3 contacts")
    assert sorted(r["id"] for r in rows(page)) == sorted(ids_range(1, 3))

    # With results: the skip link is still first, and every control has a label.
    assert_skip_link_first(page)
    controls = assert_controls_labelled(page)
    labelled = {c["text"] for c in controls}
    for expected in ("Contact ids", "Type", "Category", "Include personnummer", "Separator"):
        assert any(text.startswith(expected) for text in labelled), (expected, labelled)

    # A sort header works from the keyboard too.
    name_header = page.locator("table.contacts thead th", has_text="Name")
    name_header.get_by_role("link", name="Name").focus()
    page.keyboard.press("Enter")
    expect(name_header).to_have_attribute("aria-sort", "ascending")

    assert_clean_console(console)


def test_pages_report_no_console_errors_or_csp_violations(
    live_server, page, console, make_user, vitec
):
    """Every page a broker visits, with the console watched: no errors, no CSP reports."""
    user = make_user("console")
    credential = make_credential(user, customer_id="M1001")
    base = live_server.url
    page.goto(f"{base}/accounts/login/")
    log_in(page, base, user.username)
    look_up(page, [*ids_range(1, 8), missing_id(99999), "not an id"])
    page.locator(".filters").get_by_label("Type", exact=True).select_option(value="Person")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.locator("#results-heading")).to_be_visible()
    person = rows(page)[0]
    page.locator("table.contacts tbody th a").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(person["name"])
    reveal = page.get_by_role("button", name="Show personnummer")
    if reveal.count():
        reveal.click()
        expect(page.get_by_role("status")).to_be_visible()
    page.goto(
        f"{base}/contacts/{missing_id(99998)}/?credential={credential.pk}"
    )  # not found: a 404 page
    expect(page.get_by_role("heading", level=1)).to_have_text("Contact not found")
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in")

    csp = console.csp_violations()
    assert not csp, "Content Security Policy violations:\n" + "\n".join(csp)
    # The deliberate 404 page is the only resource that may fail to load.
    errors = [e for e in console.errors() if f"/contacts/{missing_id(99998)}/" not in e]
    assert not errors, "console errors:\n" + "\n".join(errors)
    assert not console.page_errors, console.page_errors


def test_console_watch_catches_a_csp_violation(live_server, page, console):
    """The watch above would see a violation: an inline script on a served page is refused."""
    page.goto(f"{live_server.url}/accounts/login/")
    with page.expect_console_message(lambda m: "Content Security Policy" in m.text):
        page.evaluate(
            """() => { const s = document.createElement("script");
                       s.textContent = "window.inlineRan = true";
                       document.body.append(s); }"""
        )
    assert console.csp_violations(), console.messages
    assert page.evaluate("() => window.inlineRan === undefined")  # the script did not run
