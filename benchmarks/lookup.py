"""Benchmark: how long a lookup of N ids takes against the sandbox at a given latency.

Runs the sandbox in-process on a free loopback port and compares the client's concurrent
batches with a sequential client that sends one batch at a time, as Vitec's code samples do.

    DEBUG=1 .venv/bin/python -m benchmarks.lookup --ids 1000 --latency-ms 200
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import django


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", type=int, default=1000)
    parser.add_argument("--latency-ms", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crmviewer.settings")
    django.setup()
    from contacts.vitec.client import VitecClient, batched
    from contacts.vitec.sandbox import SandboxConfig, SandboxServer
    from contacts.vitec.sandbox.data import customer_data

    config = SandboxConfig(latency_ms=args.latency_ms)
    contacts = customer_data("M1001", seed=config.seed, count=config.contacts_per_customer).contacts
    ids = [contact["id"] for contact in contacts[: args.ids]]
    with SandboxServer(config).start() as sandbox:
        client = VitecClient(
            base_url=sandbox.base_url,
            username="demo",
            password="demo",
            max_concurrency=args.concurrency,
        )
        client.fetch_contacts("M1001", ids[:1])  # warm the sandbox's data and the connection
        concurrent, sequential = [], []
        for _ in range(args.repeat):
            sandbox.stats.reset()
            started = time.perf_counter()
            result = client.fetch_contacts("M1001", ids)
            concurrent.append(time.perf_counter() - started)
            calls = len(sandbox.stats.requests)
            in_flight = sandbox.stats.max_in_flight
            if [c.id for c in result.contacts] != ids:
                raise SystemExit("The lookup came back incomplete or out of order.")

            started = time.perf_counter()
            for batch in batched(ids):
                client.fetch_contact_batch("M1001", batch)
            sequential.append(time.perf_counter() - started)
        client.close()

    con, seq = statistics.median(concurrent), statistics.median(sequential)
    print(f"{args.ids} ids, sandbox latency {args.latency_ms} ms, concurrency {args.concurrency}")
    print(f"  calls per lookup: {calls} (at most 20 ids each), most in flight: {in_flight}")
    runs = [round(t, 2) for t in concurrent]
    print(f"  concurrent: median {con:.2f} s over {args.repeat} runs {runs}")
    print(f"  sequential: median {seq:.2f} s   ratio {seq / con:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
