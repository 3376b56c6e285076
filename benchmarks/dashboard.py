"""Benchmark: the dashboard's lookup page for N ids, cold and from the cache.

Serves the sandbox in-process at the given latency, sets up an in-memory database with one
broker and credential, and times GET /contacts/?ids=... through the whole Django stack (the
test client), checking that the cached answer made no call to Vitec.

    DEBUG=1 .venv/bin/python -m benchmarks.dashboard --ids 200 --latency-ms 300
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Any


def in_process(latency_ms: int) -> tuple[Any, Any, Any, list[dict[str, Any]]]:
    """Django set up in this process on an in-memory database, with one broker and a credential
    for the sandbox's M1001: (user, credential, sandbox config at `latency_ms`, M1001's
    records)."""
    os.environ["DATABASE_URL"] = "sqlite://:memory:"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crmviewer.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from contacts.models import VitecCredential
    from contacts.vitec.sandbox import SandboxConfig
    from contacts.vitec.sandbox.data import customer_data

    settings.ALLOWED_HOSTS = ["testserver"]
    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user("bench")
    credential = VitecCredential(user=user, customer_id="M1001", api_username="demo")
    credential.set_password("demo")
    credential.save()
    config = SandboxConfig(latency_ms=latency_ms)
    contacts = customer_data("M1001", seed=config.seed, count=config.contacts_per_customer).contacts
    return user, credential, config, list(contacts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", type=int, default=200)
    parser.add_argument("--latency-ms", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    user, credential, config, contacts = in_process(args.latency_ms)
    from django.conf import settings
    from django.core.cache import cache
    from django.test import Client

    from contacts.vitec.sandbox import SandboxServer

    ids = ",".join(contact["id"] for contact in contacts[: args.ids])
    missing = "ADR" + "0" * 32  # well-formed, not in the sandbox
    url = f"/contacts/?credential={credential.pk}&ids={ids}"
    cold, warm, warm_calls = [], [], []
    with SandboxServer(config).start() as sandbox:
        settings.VITEC_BASE_URL = sandbox.base_url
        client = Client()
        client.force_login(user)
        client.get(f"/contacts/?credential={credential.pk}&ids={missing}")  # warm-up
        for _ in range(args.repeat):
            cache.clear()
            started = time.perf_counter()
            response = client.get(url)
            cold.append(time.perf_counter() - started)
            if response.status_code != 200 or contacts[0]["id"].encode() not in response.content:
                raise SystemExit(f"Unexpected answer: {response.status_code}")
            sandbox.stats.reset()
            started = time.perf_counter()
            client.get(url)
            warm.append(time.perf_counter() - started)
            warm_calls.append(len(sandbox.stats.requests))

    print(f"GET /contacts/ with {args.ids} ids, sandbox latency {args.latency_ms} ms")
    print(f"  cold:   median {statistics.median(cold):.3f} s  max {max(cold):.3f} s")
    print(f"  cached: median {statistics.median(warm):.3f} s  max {max(warm):.3f} s")
    print(f"  Vitec calls made by the cached requests: {sum(warm_calls)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
