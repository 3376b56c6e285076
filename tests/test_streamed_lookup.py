"""A lookup that needs more than one round of Vitec calls is written out as the answers arrive
(contacts/views/lookup.py, _streamed_page): the page's top at once, then the contacts of each
answer (the first page's worth) with how many ids are still to come, then the whole view and the
rest of the page; recorded in the audit trail before any contact is sent.

The `vitec` fixture asks 4 calls at once: one round is 80 ids, so 300 ids take four rounds.
Expected contacts and their order come from the sandbox's own records (tests/oracle.py).
"""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.urls import reverse

from contacts import services
from contacts.models import AuditEvent
from tests import oracle
from tests.dashboard_fixtures import contact_calls, ids_range, missing_id

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

LOOKUP = reverse("contacts:lookup")
_ROW_NAME = re.compile(r'<th scope="row"><a href="[^"]*">(.*?)</a>')
_COUNT = re.compile(r'<p class="arriving-count" role="status">([\d\s,.]+) of ([\d\s,.]+) ids')


def names(html: str) -> list[str]:
    return [unescape(name) for name in _ROW_NAME.findall(html)]


def number(text: str) -> int:
    return int(re.sub(r"\D", "", text))


def test_a_long_cold_lookup_shows_the_first_answers_before_the_rest(
    en_client, credential, vitec, reference
):
    vitec.configure(latency_ms=100)  # four rounds of calls take 0.4 s: one may be read first
    ids = ids_range(1, 300)
    params = {"customer": credential.customer_id, "ids": ",".join(ids), "sort": "name"}
    response = en_client.get(LOOKUP, params)
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert response["X-Accel-Buffering"] == "no"
    chunks = []
    answered_when_shown = None  # Vitec's answers sent when the first contacts were read
    for chunk in response.streaming_content:
        chunks.append(chunk.decode())
        if answered_when_shown is None and names(chunks[-1]):
            answered_when_shown = len(contact_calls(vitec))
    end = next(k for k, c in enumerate(chunks) if '<div class="arrived" hidden></div>' in c)
    top, arriving, rest = chunks[0], chunks[1:end], "".join(chunks[end:])
    # The top of the page first: heading and forms, no contact, no end of the page.
    assert "<h1>Contacts</h1>" in top and "</html>" not in top and names(top) == []
    # Then each answer as it came, counted; the first contacts before most answers were in.
    assert answered_when_shown is not None and answered_when_shown < 15
    counts = [(number(a), number(b)) for c in arriving for a, b in _COUNT.findall(c)]
    assert counts[0] == (0, 300) and counts[-1] == (300, 300)
    answered = [a for a, _ in counts]
    assert answered == sorted(set(answered))  # each step says more: answers that came together
    assert all(a % 20 == 0 for a in answered)  # come as one step (15 answers of 20 ids)
    assert 1 + 4 <= len(counts) <= 1 + 15  # nothing cached, then at least a step a round
    arrived = [name for c in arriving for name in names(c)]
    assert len(arrived) == 50  # a page's worth, in the order they came
    assert set(arrived) <= {oracle.name(reference[i]) for i in ids}
    # Then the whole view, sorted by name Swedish style, its first page, and the page's end.
    expected = sorted(ids, key=lambda i: oracle.swedish_order(reference[i]))[:50]
    assert names(rest) == [oracle.name(reference[i]) for i in expected]
    assert rest.rstrip().endswith("</html>")
    assert "1\u201350 of 300" in rest  # an en dash

    # Recorded once, with every id asked and the rows the view had.
    [event] = AuditEvent.objects.filter(action=AuditEvent.Action.LOOKUP)
    assert event.contact_ids == ids and event.row_count == 300
    # What came is cached: the same page again is whole at once, and asks Vitec nothing.
    vitec.stats.reset()
    again = en_client.get(LOOKUP, params)
    assert not again.streaming and contact_calls(vitec) == []
    assert names(again.content.decode()) == names(rest)


def test_the_arriving_rows_keep_the_views_filters_and_the_end_names_what_is_missing(
    en_client, credential, vitec, reference
):
    ids = [*ids_range(1, 200), missing_id(1), missing_id(2)]
    params = {"customer": credential.customer_id, "ids": ",".join(ids), "type": "Company"}
    response = en_client.get(LOOKUP, params)
    assert response.streaming
    page = b"".join(response.streaming_content).decode()
    head, _, rest = page.partition('<div class="arrived" hidden></div>')
    companies = {oracle.name(reference[i]) for i in ids[:200] if reference[i]["type"] == "Company"}
    assert companies and set(names(head)) <= companies  # persons never shown, even arriving
    assert set(names(rest)) == companies if len(companies) <= 50 else len(names(rest)) == 50
    assert "2 ids were not found in Vitec" in rest
    assert missing_id(1) in rest


def test_a_lookup_of_one_round_is_not_streamed(en_client, credential, vitec):
    response = en_client.get(
        LOOKUP, {"customer": credential.customer_id, "ids": ",".join(ids_range(1, 80))}
    )
    assert not response.streaming
    assert len(names(response.content.decode())) == 50


def test_a_failure_half_way_ends_the_page_with_a_message(
    en_client, credential, vitec, monkeypatch, caplog
):
    def broken(*args, **kwargs):
        raise RuntimeError("the view could not be made")

    monkeypatch.setattr(services.access, "contacts_view_of", broken)
    response = en_client.get(
        LOOKUP, {"customer": credential.customer_id, "ids": ",".join(ids_range(1, 300))}
    )
    page = b"".join(response.streaming_content).decode()
    assert "The lookup stopped before every answer was in." in page
    assert page.rstrip().endswith("</html>")
    assert "the view could not be made" not in page
    assert any(r.getMessage() == "A streamed lookup failed" for r in caplog.records)
