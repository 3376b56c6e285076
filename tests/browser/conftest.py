"""Browser tests: Debian's Chromium driven by Playwright against Django's live_server.

Playwright never downloads a browser here: the system's Chromium is launched by path, and the
tests skip with a clear reason when it is missing. On a failure the page's screenshot and HTML
are saved to test-artifacts/browser/<test name>.png|.html.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from contacts.services import sync
from tests.dashboard_fixtures import make_credential

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
DEFAULT_TIMEOUT_MS = 10_000
# A broker's laptop; a test marked @pytest.mark.viewport(390, 844) gets a phone's screen instead.
LAPTOP = {"width": 1366, "height": 900}
# The password of every user these tests create; fresh users each test, so django-axes never
# counts failures across tests.
PASSWORD = "Browser-test-password-1"


def find_chromium() -> str | None:
    """The system's Chromium: /usr/bin/chromium, else `chromium` or `chromium-browser` on PATH."""
    for candidate in CHROMIUM_CANDIDATES:
        if os.path.isabs(candidate):
            if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                return candidate
            continue
        found = shutil.which(candidate)
        if found:
            return found
    return None


# --- failure artifacts ----------------------------------------------------------------------------


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Keep each phase's report on the item (rep_setup, rep_call, rep_teardown) for fixtures."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def _failed(item: pytest.Item) -> bool:
    return any(
        getattr(getattr(item, f"rep_{when}", None), "failed", False) for when in ("setup", "call")
    )


def _artifact_stem(item: pytest.Item) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", item.name).strip("_") or "test"


def save_artifacts(page, item: pytest.Item) -> list[Path]:
    """The page's screenshot and HTML, named after the test; what could be saved is returned."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    stem = _artifact_stem(item)
    saved: list[Path] = []
    screenshot = ARTIFACTS / f"{stem}.png"
    try:
        page.screenshot(path=str(screenshot), full_page=True)
        saved.append(screenshot)
    except Exception as exc:  # a crashed page still lets the HTML (or nothing) be saved
        print(f"screenshot of {item.nodeid} failed: {exc}")
    html = ARTIFACTS / f"{stem}.html"
    try:
        html.write_text(page.content(), encoding="utf-8")
        saved.append(html)
    except Exception as exc:
        print(f"HTML of {item.nodeid} could not be saved: {exc}")
    return saved


# --- browser, context, page -----------------------------------------------------------------------


@pytest.fixture(scope="package")
def browser() -> Iterator[object]:
    """One headless Chromium for all the browser tests, or a skip saying how to get one.

    Package scope is the session of the browser tests: Chromium starts once for all of them, and
    stops (with Playwright's event loop, see below) before the rest of the suite runs, which
    pytest-django orders after them.
    """
    executable = find_chromium()
    if executable is None:
        pytest.skip("Chromium not installed: apt-get install chromium")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="Playwright not installed: pip install -e '.[dev]'"
    )
    # Playwright's sync API keeps an asyncio loop running in this thread while it is started, and
    # Django then refuses ORM calls from it (fixtures, the transactional flush) as "async unsafe".
    # A known pytest-django + Playwright interaction: allow them while the browser is up.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_api.sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@dataclass
class ConsoleLog:
    """What the page reported: console messages of every type, and uncaught script errors."""

    messages: list[tuple[str, str, str]] = field(default_factory=list)  # (type, text, url)
    page_errors: list[str] = field(default_factory=list)

    def errors(self) -> list[str]:
        return [f"{text} ({url})" for kind, text, url in self.messages if kind == "error"]

    def csp_violations(self) -> list[str]:
        return [
            text
            for _, text, _ in self.messages
            if "Content Security Policy" in text or "Refused to" in text
        ]

    def problems(self) -> list[str]:
        """Console errors, CSP reports (of any level) and page errors, each once."""
        found = [*self.errors(), *self.csp_violations(), *self.page_errors]
        return list(dict.fromkeys(found))


@pytest.fixture
def console() -> ConsoleLog:
    return ConsoleLog()


@pytest.fixture
def page(browser, console: ConsoleLog, request: pytest.FixtureRequest) -> Iterator[object]:
    """A fresh page in its own context (English, no cookies, a laptop's screen unless the test's
    `viewport` marker says otherwise, the clipboard allowed); saved to test-artifacts on failure."""
    marker = request.node.get_closest_marker("viewport")
    viewport = {"width": marker.args[0], "height": marker.args[1]} if marker else LAPTOP
    context = browser.new_context(
        locale="en-US",
        extra_http_headers={"Accept-Language": "en"},
        accept_downloads=True,
        viewport=viewport,
        is_mobile=bool(marker),
        has_touch=bool(marker),
        permissions=["clipboard-read", "clipboard-write"],
    )
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    browser_page = context.new_page()
    browser_page.set_default_timeout(DEFAULT_TIMEOUT_MS)
    browser_page.on(
        "console",
        lambda message: console.messages.append(
            (message.type, message.text, message.location.get("url", ""))
        ),
    )
    browser_page.on("pageerror", lambda error: console.page_errors.append(str(error)))
    try:
        yield browser_page
    finally:
        if _failed(request.node):
            saved = save_artifacts(browser_page, request.node)
            if saved:
                print("browser artifacts: " + ", ".join(str(p) for p in saved))
        context.close()


# --- users ----------------------------------------------------------------------------------------


@pytest.fixture
def fast_passwords(settings) -> None:
    """A fast hasher: the tests log in through the form, not measure PBKDF2."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def make_user(django_user_model, fast_passwords):
    """Users with a unique name (django-axes counts failures per user name) and PASSWORD."""

    def make(prefix: str = "user", **extra):
        username = f"{prefix}-{uuid.uuid4().hex[:8]}"
        if extra.pop("superuser", False):
            return django_user_model.objects.create_superuser(
                username=username, password=PASSWORD, email=f"{username}@example.com", **extra
            )
        return django_user_model.objects.create_user(username=username, password=PASSWORD, **extra)

    return make


@pytest.fixture
def office(make_user, vitec):
    """A fresh broker whose only credential is for M1002, its office register fully synced
    (2,400 contacts over real HTTP: a few seconds)."""
    user = make_user("broker")
    credential = make_credential(user, customer_id="M1002", label="Kontoret")
    report = sync.sync_customer("M1002")
    assert report.error == "" and not report.failed_ids, report.summary()
    return user, credential
