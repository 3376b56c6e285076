"""Profile: where a cached lookup page spends its time, in-process.

Serves the sandbox in-process (no latency), sets up an in-memory database with one broker and
credential, warms the cache with one lookup, times N more requests of the same page through the
whole Django stack (the test client), then runs N under cProfile and prints the functions with
the most time (cumulative, or own time with --own).

    DEBUG=1 .venv/bin/python -m benchmarks.profile_page --ids 100 --per-page 100 --requests 30
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time

from benchmarks.dashboard import in_process


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", type=int, default=100)
    parser.add_argument("--per-page", type=int, default=50, choices=(25, 50, 100))
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--own", action="store_true", help="sort by own time, not cumulative")
    args = parser.parse_args(argv)

    user, _, config, contacts = in_process(latency_ms=0)
    from django.conf import settings
    from django.test import Client

    from contacts.vitec.sandbox import SandboxServer

    ids = ",".join(contact["id"] for contact in contacts[: args.ids])
    url = f"/contacts/?customer=M1001&ids={ids}&per_page={args.per_page}"
    with SandboxServer(config).start() as sandbox:
        settings.VITEC_BASE_URL = sandbox.base_url
        client = Client()
        client.force_login(user)
        client.get(url)  # Vitec's answers now cached
        client.get(url)  # the session renewed
        started = time.perf_counter()
        for _ in range(args.requests):
            client.get(url)
        seconds = time.perf_counter() - started
        print(f"{args.ids} ids, {args.per_page} a page: {seconds / args.requests * 1000:.1f} ms")
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(args.requests):
            client.get(url)
        profile.disable()
    stats = pstats.Stats(profile)
    stats.sort_stats("tottime" if args.own else "cumulative").print_stats(args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
