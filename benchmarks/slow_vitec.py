"""Benchmark 5: pages that need no Vitec call while many lookups wait on a slow Vitec.

The sandbox answers each call after 2 s; 30 brokers each start a cold lookup of 100 ids at
once (each broker's own 100, so none is served by another's fetch), while a probe asks for
`/healthz` and for a page of the office register (synced before Vitec slowed down) every
100 ms until the last lookup has arrived. Measured: every lookup's time and whether it came
whole, the probe's p50/p95/max for each page, and the most calls Vitec had in flight (against
VITEC_CUSTOMER_MAX_IN_FLIGHT). gunicorn runs with gunicorn.conf.py's own workers and threads.

    .venv/bin/python -m benchmarks.run --only slow
"""

from __future__ import annotations

import os
import statistics
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import requests

from benchmarks.run import (
    PYTHON,
    ROOT,
    clear_cache,
    free_port,
    gunicorn_default_command,
    log_in,
    prepared_env,
    process,
    sandbox_command,
    setup_database,
    wait_for,
)

BROKERS = 30
IDS_EACH = 100
SLOW_MS = 2000
PROBE_EVERY = 0.1


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def run(workdir: Path, *, use_pg: bool, use_redis: bool) -> dict[str, Any]:
    sandbox_port, web_port = free_port(), free_port()
    sandbox = f"http://127.0.0.1:{sandbox_port}"
    base = f"http://127.0.0.1:{web_port}"
    env = prepared_env(workdir, sandbox, use_pg=use_pg, use_redis=use_redis, name="slow.sqlite3")
    setup_database(env)
    office = (
        "import django; django.setup()\n"
        "from django.contrib.auth import get_user_model\n"
        "from contacts.models import VitecCredential\n"
        "u = get_user_model().objects.get(username='bench-broker')\n"
        "c, _ = VitecCredential.objects.get_or_create(user=u, customer_id='M1002',"
        " defaults={'api_username': 'demo'})\n"
        "c.set_password('demo'); c.save()\n"
    )
    subprocess.run([PYTHON, "-c", office], cwd=ROOT, env=env, check=True)

    from contacts.vitec.sandbox.data import customer_data

    ids = [contact["id"] for contact in customer_data("M1001").contacts]
    lists = [ids[(n * IDS_EACH) % len(ids) :][:IDS_EACH] for n in range(BROKERS)]
    with process(sandbox_command(sandbox_port, 0), env, workdir / "slow-sandbox.log"):
        wait_for(f"{sandbox}/_sandbox/health")
        subprocess.run(
            [PYTHON, "manage.py", "sync_contacts", "--customer", "M1002"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        clear_cache(env)
        requests.put(f"{sandbox}/_sandbox/config", json={"latency_ms": SLOW_MS}, timeout=10)
        with process(gunicorn_default_command(web_port), env, workdir / "slow-gunicorn.log"):
            wait_for(f"{base}/accounts/login/")
            session = log_in(base)
            cookie = session.cookie_header()
            register_url = f"{base}/contacts/?customer=M1002&type=Person"
            if 'id="register-filters"' not in get(base, register_url, cookie).text:
                raise SystemExit("the register of M1002 did not open: see slow-gunicorn.log")
            requests.post(f"{sandbox}/_sandbox/stats/reset", timeout=10)

            lookups: list[tuple[float, bool]] = []
            probes: dict[str, list[float]] = {"healthz": [], "register": []}
            done = threading.Event()

            def broker(n: int) -> None:
                url = f"{base}/contacts/?customer=M1001&ids={','.join(lists[n])}"
                started = time.perf_counter()
                response = get(base, url, cookie, timeout=300)
                whole = response.status_code == 200 and "could not be fetched" not in response.text
                lookups.append((time.perf_counter() - started, whole))

            def probe() -> None:
                while not done.is_set():
                    for name, url in (("healthz", f"{base}/healthz"), ("register", register_url)):
                        started = time.perf_counter()
                        get(base, url, cookie, timeout=60)
                        probes[name].append(time.perf_counter() - started)
                    time.sleep(PROBE_EVERY)

            prober = threading.Thread(target=probe)
            prober.start()
            time.sleep(0.5)  # the probe's baseline before the burst
            threads = [threading.Thread(target=broker, args=(n,)) for n in range(BROKERS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            done.set()
            prober.join()
            stats = requests.get(f"{sandbox}/_sandbox/stats", timeout=10).json()
    times = [seconds for seconds, _ in lookups]
    return {
        "lookups": len(lookups),
        "whole": sum(1 for _, whole in lookups if whole),
        "lookup_median": statistics.median(times),
        "lookup_max": max(times),
        "probes": {
            name: {
                "count": len(values),
                "p50": statistics.median(values),
                "p95": percentile(values, 0.95),
                "max": max(values),
            }
            for name, values in probes.items()
        },
        "max_in_flight": stats["max_in_flight"],
    }


# This part's first run, before issue 13's changes (gunicorn 5 workers x 4 threads).
BEFORE_P95_MS = {"healthz": 3520, "register": 13461}


def get(base: str, url: str, cookie: str, timeout: float = 60) -> requests.Response:
    return requests.get(
        url,
        headers={"Cookie": cookie, "X-Forwarded-Proto": "https", "Referer": f"{base}/"},
        timeout=timeout,
        allow_redirects=False,
    )


def section(result: dict[str, Any], cap: int) -> list[str]:
    probes = result["probes"]
    rows = [
        f"| {name} | {p['count']} | {p['p50'] * 1000:.0f} ms | {p['p95'] * 1000:.0f} ms | "
        f"{p['max'] * 1000:.0f} ms | {BEFORE_P95_MS[name]:,} ms "
        f"({BEFORE_P95_MS[name] / (p['p95'] * 1000):.0f}x shorter now) |"
        for name, p in probes.items()
    ]
    met = (
        all(p["p95"] < 0.3 for p in probes.values())
        and result["whole"] == result["lookups"]
        and result["max_in_flight"] <= cap
    )
    return [
        f"## Pages beside {BROKERS} lookups waiting on a slow Vitec",
        "",
        f"Vitec at {SLOW_MS / 1000:.0f} s a call; {BROKERS} brokers start a cold lookup of "
        f"{IDS_EACH} ids each at once; a probe asks for `/healthz` and a register page every "
        f"{PROBE_EVERY * 1000:.0f} ms until the last lookup arrives (gunicorn.conf.py's workers "
        "and threads).",
        "",
        "| page | requests | p50 | p95 | max | p95 before (4 threads a worker, 2026-12-03) |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        f"Lookups: {result['whole']} of {result['lookups']} complete, median "
        f"{result['lookup_median']:.1f} s, slowest {result['lookup_max']:.1f} s. Vitec calls "
        f"in flight at most {result['max_in_flight']} (cap {cap}). Target: `/healthz` and the "
        f"register page p95 under 300 ms, every lookup complete, the cap never exceeded: "
        f"{'met' if met else 'NOT met'}.",
        "",
    ]


def main(args: Any, workdir: Path, *, use_pg: bool, use_redis: bool) -> dict[str, Any]:
    """Part 5, its section written into args.output (replacing its own, keeping the rest)."""
    result = run(workdir, use_pg=use_pg, use_redis=use_redis)
    lines = section(result, cap=int(os.environ.get("VITEC_CUSTOMER_MAX_IN_FLIGHT", "20")))
    print("\n".join(lines))
    path = Path(args.output)
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    heading = lines[0]
    start = text.find(f"\n{heading}\n")
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[: start + 1] + text[end + 1 :] if end >= 0 else text[: start + 1]
    path.write_text(text.rstrip("\n") + "\n\n" + "\n".join(lines), encoding="utf-8")
    return result
