"""What a user does and sees on the dashboard's pages, for the browser tests.

The tests read the page as rendered (text of cells, options, headings), never the view's context.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import PASSWORD

ROW_ID = re.compile(r"/contacts/([^/?]+)/\?")
COUNT_IN_OPTION = re.compile(r"\((\d+)\)\s*$")

# One object per row of the contacts table, read in one round trip; a cell by its column's class
# (the broker chooses the columns), "" or [] when the column is not shown.
ROWS_JS = """
rows => rows.map(row => {
  const text = key => (row.querySelector(".col-" + key) || {textContent: ""}).textContent.trim();
  return {
    href: row.querySelector("th a").getAttribute("href"),
    name: row.querySelector("th a").textContent.trim(),
    type: text("type"),
    id_number: text("id_number"),
    tel: (row.querySelector('.col-phone a[href^="tel:"]') || {}).href || "",
    tags: [...row.querySelectorAll(".col-categories .tag")].map(tag => tag.textContent.trim()),
  };
})
"""
OPTIONS_JS = "options => options.map(o => [o.value, o.textContent.trim()])"


def log_in(page: Page, base_url: str, username: str, password: str = PASSWORD) -> None:
    """Through the login form, as a broker would; lands on the contacts page."""
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{base_url}/contacts/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Contacts")


def look_up(page: Page, ids: list[str]) -> None:
    """Type the ids into the textarea, one a line, and press "Look up"."""
    box = page.get_by_label("Contact ids")
    box.fill("\n".join(ids[:-1]) + ("\n" if len(ids) > 1 else ""))
    box.press_sequentially(ids[-1])  # the last one typed key by key, like a person would
    page.get_by_role("button", name="Look up").click()
    expect(page.locator("#results-heading")).to_be_visible()


def rows(page: Page) -> list[dict]:
    """The rows of the table on this page, each with the contact id taken from its link (not
    the rows a streamed lookup showed while they arrived, hidden once the table has come)."""
    found = page.locator("table.contacts:not(.arriving *) tbody tr").evaluate_all(ROWS_JS)
    for row in found:
        match = ROW_ID.search(row["href"])
        assert match, f"no contact id in the link {row['href']!r}"
        row["id"] = match.group(1)
    return found


def options(page: Page, select_id: str) -> list[tuple[str, str]]:
    """(value, label) of each option of a select."""
    return [tuple(o) for o in page.locator(f"#{select_id} option").evaluate_all(OPTIONS_JS)]


def option_count(label: str) -> int | None:
    """The count an option shows, like "Person (41)"; None when it shows none."""
    match = COUNT_IN_OPTION.search(label)
    return int(match.group(1)) if match else None


def option_name(label: str) -> str:
    """The option's label without its count: "Person (41)" -> "Person"."""
    return COUNT_IN_OPTION.sub("", label).strip()


def apply_filters(page: Page, *, type: str | None = None, category: str | None = None) -> None:
    """Pick values in the filter form's selects (by option value) and press "Apply filters"."""
    filters = page.locator(".filters")
    if type is not None:
        filters.get_by_label("Type", exact=True).select_option(value=type)
    if category is not None:
        filters.get_by_label("Category", exact=True).select_option(value=category)
    filters.get_by_role("button", name="Apply filters").click()
    expect(page.locator("#results-heading")).to_be_visible()


def pages_above(page: Page):
    """The page links above the list (the same links follow it below)."""
    return page.get_by_role("navigation", name="Pages above the list")


def show_columns(page: Page, *labels: str) -> None:
    """Under "Columns", tick these columns besides those shown, and show them."""
    chooser = page.locator(".columns-chooser")
    chooser.locator("summary").click()
    for label in labels:
        chooser.get_by_label(label, exact=True).check()
    with page.expect_navigation():
        chooser.get_by_role("button", name="Show these columns").click()
    expect(page.locator("#results-heading")).to_be_visible()


def assert_clean_console(console) -> None:
    problems = console.problems()
    assert not problems, "the browser reported problems:\n" + "\n".join(problems)


# Every cell of each row of the contacts table, by its column's heading (sort arrows left out).
CELLS_JS = """
table => {
  const heads = [...table.querySelectorAll("thead th")].map(
    th => th.textContent.replace(/[\\u25b2\\u25bc]/g, "").trim());
  return [...table.querySelectorAll("tbody tr")].map(row => Object.fromEntries(
    [...row.cells].map((cell, i) => [heads[i], cell.textContent.trim()])));
}
"""


def cells(page: Page) -> list[dict[str, str]]:
    """The text of each row's cells by column heading ("Name", "E-mail", "City", ...), in the
    order of rows(page)."""
    return page.locator("table.contacts").first.evaluate(CELLS_JS)


def option_counts(page: Page, select_id: str) -> dict[str, int | None]:
    """The count each option of a select shows, by option value ("All" left out)."""
    return {value: option_count(label) for value, label in options(page, select_id) if value}


def search_register(page: Page, **fields: str) -> None:
    """Fill the register's filter form (the search box `q`, selects by option value) and press
    "Search"; waits for the next page's results heading."""
    form = page.locator("#register-filters")
    for name, value in fields.items():
        if name == "q":
            form.locator("#filter-q").fill(value)
        else:
            form.locator(f"#filter-{name}").select_option(value=value)
    with page.expect_navigation():
        form.get_by_role("button", name="Search").click()
    expect(page.locator("#results-heading")).to_be_visible()
