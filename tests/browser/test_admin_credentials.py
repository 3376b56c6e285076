"""An administrator in a real browser: add a Vitec credential, see that its password is never sent
back, and test the connection against the sandbox, with the right password and with a wrong one.
"""

from __future__ import annotations

import re

import pytest

pytest.importorskip("playwright.sync_api", reason="Playwright not installed")

from playwright.sync_api import Page, expect

from tests.browser.conftest import PASSWORD
from tests.browser.pages import assert_clean_console

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
]

API_PASSWORD = "demo"  # the sandbox's public demo account
WRONG_PASSWORD = "not-the-demo-password-5521"
ENCRYPTED = "gAAAAA"  # how every Fernet token starts
PASSWORD_INPUT = re.compile(r'<input[^>]*\bname="password"[^>]*>')


def admin_log_in(page: Page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/admin/")
    expect(page).to_have_url(re.compile(r"/admin/login/\?next=/admin/$"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()


def assert_password_not_sent_back(page: Page, *typed: str) -> None:
    """The change page's password input is empty, and no password or token is in the HTML."""
    field = page.get_by_label("API password")
    expect(field).to_have_attribute("type", "password")
    expect(field).to_have_value("")
    assert (field.get_attribute("value") or "") == ""
    html = page.content()
    inputs = PASSWORD_INPUT.findall(html)
    assert len(inputs) == 1, inputs
    assert "value=" not in inputs[0], f"the password input has a value: {inputs[0]}"
    assert ENCRYPTED not in html, "the encrypted password is in the page"
    for secret in typed:
        if secret != "demo":  # "demo" is also the API user name, shown in its own input
            assert secret not in html, f"the password {secret!r} is in the page"
    # The API user name is "demo" too: it may appear, but only as the user name's value.
    values = re.findall(r'<input[^>]*\bvalue="demo"[^>]*>', html)
    assert all('name="api_username"' in tag for tag in values), values


def messages(page: Page, level: str):
    return page.locator(f"ul.messagelist li.{level}")


def test_admin_adds_a_credential_and_tests_its_connection(
    live_server, page, console, make_user, vitec
):
    base = live_server.url
    admin = make_user("admin", superuser=True)
    broker = make_user("broker")
    admin_log_in(page, base, admin.username)

    # Through the index to the add form.
    page.get_by_role("link", name="Vitec credentials").click()
    page.get_by_role("link", name=re.compile(r"^Add Vitec credential")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Add Vitec credential")
    expect(page.get_by_label("API password")).to_have_value("")
    page.get_by_label(re.compile(r"^User:?$")).select_option(label=broker.username)
    page.get_by_label("Label").fill("Kontoret i Borås")
    page.get_by_label("Customer id").fill("M1001")
    page.get_by_label("API user name").fill("demo")
    page.get_by_label("API password").fill(API_PASSWORD)
    page.get_by_role("button", name="Save and continue editing").first.click()

    # The change page: saved, and the password is write-only.
    expect(messages(page, "success")).to_contain_text("was added successfully")
    expect(page).to_have_url(re.compile(r"/admin/contacts/viteccredential/\d+/change/$"))
    change_url = page.url
    expect(page.get_by_label("Customer id")).to_have_value("M1001")
    expect(page.get_by_label("API user name")).to_have_value("demo")
    assert_password_not_sent_back(page, API_PASSWORD)

    # "Test connection" on the change page, against the sandbox: success.
    page.get_by_role("button", name="Test connection").click()
    expect(page).to_have_url(change_url)
    ok = messages(page, "success")
    expect(ok).to_contain_text(re.compile(r"Connected: Vitec lists \d+ categories\."))
    expect(ok).to_contain_text("Kontoret i Borås (M1001)")
    expect(messages(page, "error")).to_have_count(0)
    expect(page.locator(".field-last_verified_at .readonly")).not_to_have_text("-")
    assert_password_not_sent_back(page, API_PASSWORD)

    # A wrong password saved (the input starts empty again): the test says it failed.
    page.get_by_label("API password").fill(WRONG_PASSWORD)
    page.get_by_role("button", name="Save and continue editing").first.click()
    expect(messages(page, "success")).to_contain_text("was changed successfully")
    assert_password_not_sent_back(page, API_PASSWORD, WRONG_PASSWORD)
    page.get_by_role("button", name="Test connection").click()
    failed = messages(page, "error")
    expect(failed).to_contain_text("did not accept the stored API user name or password")
    expect(failed).to_contain_text("[401]")
    expect(page.locator(".field-last_error")).to_contain_text("did not accept")
    expect(messages(page, "success")).to_have_count(0)

    # The changelist's action says the same for the selected credential.
    page.goto(f"{base}/admin/contacts/viteccredential/")
    page.get_by_role("checkbox", name=re.compile(r"Kontoret i Borås \(M1001\)")).check()
    page.get_by_role("combobox", name=re.compile(r"^Action")).select_option(label="Test connection")
    page.get_by_role("button", name="Run").click()
    expect(messages(page, "error")).to_contain_text("did not accept the stored API user name")
    expect(page.locator("#result_list")).to_contain_text("did not accept")

    assert_clean_console(console)
