"""`make bench`: the dashboard measured side by side, written to docs/benchmarks.md.

Starts the sandbox (300 ms per Vitec call) and the dashboard under gunicorn on loopback ports,
with PostgreSQL and Redis when they answer (as in production), and measures over real HTTP:

1. lookups of 200 and 1,000 ids: the page cold and from the cache, against a sequential client
   that sends one batch of 20 at a time, as Vitec's own code samples do;
2. the CSV export of 1,000 contacts, cold and cached: time, and the peak memory (VmHWM) of the
   one gunicorn worker over an empty request;
3. load: 50 concurrent brokers for 60 s (wrk) on cached lookups of 100 ids;
4. the office register (benchmarks/register.py): a full and an incremental sync of an office of
   50,000 contacts, and the register's list page searched and filtered, on PostgreSQL and on
   SQLite;
5. pages beside lookups waiting on a slow Vitec (benchmarks/slow_vitec.py): /healthz and a
   register page while 30 brokers' cold lookups wait on Vitec at 2 s a call.

    .venv/bin/python -m benchmarks.run [--latency-ms 300] [--load-seconds 60] [--output FILE]
    .venv/bin/python -m benchmarks.run --only register   # 4 alone (no wrk needed)
    .venv/bin/python -m benchmarks.run --only lookups    # 1 to 3 alone
    .venv/bin/python -m benchmarks.run --only slow       # 5 alone (no wrk needed)
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BROKER = ("bench-broker", "Bench-broker-password-1")
PG_URL = "postgres://root@127.0.0.1:5432/crmviewer_bench"
REDIS_URL = "redis://127.0.0.1:6379/14"
# What issue 13 started from: `make bench` of 2026-11-27 (the first table of docs/benchmarks.md
# then), against which each run gives its ratio.
BEFORE = {
    "200": 1.20,  # s, 200 ids cold
    "1000": 4.66,  # s, 1,000 ids cold (and nothing on screen until then)
    "rps": 21.25,
    "p50": 930.61,  # ms
    "p99": 8870.0,  # ms
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=2)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {seconds} s")


def answers(command: list[str]) -> bool:
    if not shutil.which(command[0]):
        return False
    return subprocess.run(command, capture_output=True, check=False).returncode == 0


@contextmanager
def process(command: list[str], env: dict[str, str], log: Path):
    with log.open("w") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out)
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def worker_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children")
    return [int(pid) for pid in children.read_text().split()] if children.exists() else []


def rss_mb(pid: int) -> float:
    """The process's resident memory now (VmRSS), in MB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return round(int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024, 1)


def peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024


@dataclass
class Site:
    base: str
    session: HttpsSession
    credential_id: int
    master_pid: int
    last_url: str = ""

    def _post_ids(self, ids: list[str], *, follow: bool) -> requests.Response:
        return self.session.post(
            f"{self.base}/contacts/",
            data={
                "credential": self.credential_id,
                "ids": "\n".join(ids),
                "csrfmiddlewaretoken": self.session.jar["csrftoken"],
            },
            allow_redirects=follow,
            timeout=120,
        )

    def page(self, ids: list[str]) -> float:
        """A broker's lookup: the form posted, then the page it redirects to (whose address
        carries the ids, or a session list for long lists, as the dashboard does)."""
        started = time.perf_counter()
        response = self._post_ids(ids, follow=True)
        elapsed = time.perf_counter() - started
        if response.status_code != 200 or ids[0] not in response.text:
            raise SystemExit(f"lookup failed: {response.status_code}")
        self.last_url = response.url
        return elapsed

    def streamed(self, ids: list[str]) -> tuple[float, float]:
        """A broker's lookup read as the browser reads it: the form posted, then the page it
        redirects to, part by part. Seconds from the post until the first contact's row has
        arrived, and until the whole page has."""
        started = time.perf_counter()
        posted = self._post_ids(ids, follow=False)
        url = requests.compat.urljoin(self.base, posted.headers["Location"])
        first = None
        body = []
        with self.session.get(url, stream=True, timeout=120) as response:
            for chunk in response.iter_content(chunk_size=None, decode_unicode=True):
                body.append(chunk)
                if first is None and '<th scope="row">' in chunk:
                    first = time.perf_counter() - started
        elapsed = time.perf_counter() - started
        if response.status_code != 200 or ids[0] not in "".join(body):
            raise SystemExit(f"lookup failed: {response.status_code}")
        self.last_url = url
        return (elapsed if first is None else first), elapsed

    def again(self) -> float:
        """The last page again (bookmarked or reloaded)."""
        started = time.perf_counter()
        response = self.session.get(self.last_url, timeout=120)
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise SystemExit(f"lookup failed: {response.status_code}")
        return elapsed

    def view_url(self, ids: list[str]) -> str:
        """The address of a view of these ids, without rendering it (no lookup is made)."""
        response = self._post_ids(ids, follow=False)
        return requests.compat.urljoin(self.base, response.headers["Location"])

    def export(self, view_url: str) -> tuple[float, int]:
        started = time.perf_counter()
        response = self.session.get(
            view_url.replace("/contacts/?", "/contacts/export.csv?"), timeout=120
        )
        elapsed = time.perf_counter() - started
        if response.status_code != 200 or not response.content.startswith("\ufeff".encode()):
            raise SystemExit(f"export failed: {response.status_code}")
        return elapsed, response.content.count(b"\r\n") - 1


def bench_env(workdir: Path, sandbox: str) -> dict[str, str]:
    """Production settings (DEBUG off) for the processes started here; DATABASE_URL and
    CACHE_URL are added by the caller."""
    return {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "bench-" + "x" * 60,
        "CREDENTIAL_KEYS": "ZGV2ZWxvcG1lbnQtb25seS1ub3QtYS1zZWNyZXQtISE=",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "VITEC_BASE_URL": sandbox,
        "STATIC_ROOT": str(workdir / "static"),
        "LOG_LEVEL": "WARNING",
        "LOGIN_FAILURE_LIMIT": "1000",
        "DJANGO_SETTINGS_MODULE": "crmviewer.settings",
        "TRUST_X_FORWARDED_PROTO": "true",  # see HttpsSession
    }


def pg_recreate() -> None:
    """An empty crmviewer_bench database."""
    subprocess.run(["dropdb", "-h", "127.0.0.1", "--if-exists", "crmviewer_bench"], check=False)
    subprocess.run(["createdb", "-h", "127.0.0.1", "crmviewer_bench"], check=True)


def sandbox_command(port: int, latency_ms: int, *options: str) -> list[str]:
    """The Vitec sandbox on a loopback port, answering each call after `latency_ms`, quiet."""
    return [
        PYTHON,
        "manage.py",
        "vitec_sandbox",
        "--port",
        str(port),
        "--latency-ms",
        str(latency_ms),
        *options,
        "-v0",
    ]


def gunicorn_default_command(port: int) -> list[str]:
    """gunicorn with the deploy's own settings (workers, threads), on a loopback port."""
    return [
        PYTHON,
        "-m",
        "gunicorn",
        "crmviewer.wsgi:application",
        "-c",
        str(ROOT / "gunicorn.conf.py"),
        "--bind",
        f"127.0.0.1:{port}",
        "--access-logfile",
        "/dev/null",
    ]


def gunicorn_command(port: int, workers: int, threads: int) -> list[str]:
    command = [PYTHON, "-m", "gunicorn", "crmviewer.wsgi:application"]
    if (ROOT / "gunicorn.conf.py").exists():
        command += ["-c", str(ROOT / "gunicorn.conf.py")]
    return [
        *command,
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--access-logfile",
        "/dev/null",
    ]


def setup_database(env: dict[str, str]) -> int:
    """Migrate and create the bench broker with a credential for the sandbox; its id."""
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )
    script = (
        "import django; django.setup()\n"
        "from django.contrib.auth import get_user_model\n"
        "from contacts.models import VitecCredential\n"
        f"u, _ = get_user_model().objects.get_or_create(username={BROKER[0]!r})\n"
        f"u.set_password({BROKER[1]!r}); u.save()\n"
        "c, _ = VitecCredential.objects.get_or_create(user=u, customer_id='M1001',"
        " defaults={'api_username': 'demo'})\n"
        "c.api_username = 'demo'; c.set_password('demo'); c.is_active = True; c.save()\n"
        "print(c.pk)\n"
    )
    done = subprocess.run(
        [PYTHON, "-c", script], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    return int(done.stdout.strip().splitlines()[-1])


class HttpsSession(requests.Session):
    """Plain HTTP on loopback, presented as HTTPS by a trusted proxy header (as behind a TLS
    proxy), so the production settings apply unchanged: their cookies are Secure, which
    requests would not send over http://, so the cookies go in a header of our own."""

    def __init__(self, base: str) -> None:
        super().__init__()
        self.jar: dict[str, str] = {}
        https = base.replace("http://", "https://")
        self.headers.update({"X-Forwarded-Proto": "https", "Referer": f"{https}/"})

    def request(self, method, url, *args, **kwargs):
        headers = dict(kwargs.pop("headers", None) or {})
        follow = kwargs.pop("allow_redirects", True)
        if self.jar:
            headers["Cookie"] = self.cookie_header()
        response = super().request(
            method, url, *args, headers=headers, allow_redirects=False, **kwargs
        )
        self.jar.update({c.name: c.value for c in response.cookies})
        self.cookies.clear()
        if response.is_redirect and follow:
            target = requests.compat.urljoin(url, response.headers["Location"])
            return self.request("GET", target, timeout=kwargs.get("timeout"))
        return response

    def cookie_header(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.jar.items())


def log_in(base: str) -> HttpsSession:
    session = HttpsSession(base)
    page = session.get(f"{base}/accounts/login/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    response = session.post(
        f"{base}/accounts/login/",
        data={"username": BROKER[0], "password": BROKER[1], "csrfmiddlewaretoken": token},
        timeout=10,
    )
    if not response.url.endswith("/contacts/"):
        raise SystemExit(f"could not log in ({response.status_code} {response.url})")
    return session


def clear_cache(env: dict[str, str]) -> None:
    script = "import django; django.setup(); from django.core.cache import cache; cache.clear()"
    subprocess.run([PYTHON, "-c", script], cwd=ROOT, env=env, check=True)


def sequential(sandbox: str, ids: list[str]) -> float:
    """One batch of 20 at a time, as Vitec's code samples do."""
    sys.path.insert(0, str(ROOT))
    from contacts.vitec.client import VitecClient, batched

    with VitecClient(base_url=sandbox, username="demo", password="demo") as client:
        started = time.perf_counter()
        for batch in batched(ids):
            client.fetch_contact_batch("M1001", batch)
        return time.perf_counter() - started


def median_of(measure, repeat: int) -> tuple[float, list[float]]:
    times = [measure() for _ in range(repeat)]
    return statistics.median(times), times


def run_wrk(site: Site, ids: list[str], seconds: int, connections: int) -> dict[str, str]:
    site.page(ids)
    return wrk(site, site.last_url, seconds, connections)


def wrk(site: Site, url: str, seconds: int, connections: int) -> dict[str, str]:
    """`connections` clients requesting `url` for `seconds`, with the broker's session."""
    out = subprocess.run(
        [
            "wrk",
            f"-t{min(4, connections)}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "--timeout",
            "30s",
            "-H",
            f"Cookie: {site.session.cookie_header()}",
            "-H",
            "X-Forwarded-Proto: https",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result = {"raw": out}
    result["rps"] = re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)
    result["p50"] = re.search(r"50%\s+(\S+)", out).group(1)
    result["p99"] = re.search(r"99%\s+(\S+)", out).group(1)
    result["requests"] = re.search(r"(\d+) requests in", out).group(1)
    errors = 0
    if match := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        errors += int(match.group(1))
    if match := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    ):
        errors += sum(int(n) for n in match.groups())
    result["errors"] = str(errors)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=int, default=300)
    parser.add_argument("--load-seconds", type=int, default=60)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--output", default=str(ROOT / "docs" / "benchmarks.md"))
    parser.add_argument(
        "--only",
        choices=("lookups", "register", "slow"),
        help="run one part: the lookups, export and load test (1-3), the office register (4), "
        "or the pages beside lookups waiting on a slow Vitec (5)",
    )
    parser.add_argument(
        "--register-contacts", type=int, default=50_000, help="contacts in the office (4)"
    )
    parser.add_argument(
        "--register-requests", type=int, default=50, help="requests per list-page measure (4)"
    )
    parser.add_argument(
        "--register-databases",
        default="postgresql,sqlite",
        help="comma-separated: postgresql, sqlite (4); PostgreSQL only when it answers",
    )
    args = parser.parse_args(argv)
    if args.only in (None, "lookups") and not shutil.which("wrk"):
        raise SystemExit("wrk is needed for the load test: apt-get install wrk")

    workdir = Path(tempfile.mkdtemp(prefix="crmviewer-bench-"))
    use_pg = answers(["pg_isready", "-h", "127.0.0.1", "-q"])
    use_redis = answers(["redis-cli", "-n", "14", "ping"])
    if args.only in (None, "lookups"):
        lookups(args, workdir, use_pg=use_pg, use_redis=use_redis)
    if args.only in (None, "register"):
        from benchmarks import register

        register.main(args, workdir, use_pg=use_pg, use_redis=use_redis)
    if args.only in (None, "slow"):
        from benchmarks import slow_vitec

        slow_vitec.main(args, workdir, use_pg=use_pg, use_redis=use_redis)
    print(f"Written to {args.output}")
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


def prepared_env(
    workdir: Path, sandbox: str, *, use_pg: bool, use_redis: bool, name: str
) -> dict[str, str]:
    """The environment of a part's processes: production settings, a fresh PostgreSQL database
    (or SQLite file `name`), Redis (or local memory), static files collected."""
    env = bench_env(workdir, sandbox)
    if use_pg:
        pg_recreate()
    env["DATABASE_URL"] = PG_URL if use_pg else f"sqlite:///{workdir / name}"
    env["CACHE_URL"] = REDIS_URL if use_redis else "locmemcache://bench"
    subprocess.run(
        [PYTHON, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )
    return env


def lookups(args: argparse.Namespace, workdir: Path, *, use_pg: bool, use_redis: bool) -> None:
    """1 to 3 (see the module docstring), written to args.output."""
    sandbox_port, web_port = free_port(), free_port()
    sandbox = f"http://127.0.0.1:{sandbox_port}"
    env = prepared_env(workdir, sandbox, use_pg=use_pg, use_redis=use_redis, name="bench.sqlite3")
    credential_id = setup_database(env)

    def gunicorn(workers: int, threads: int) -> list[str]:
        return gunicorn_command(web_port, workers, threads)

    from contacts.vitec.sandbox.data import customer_data

    # The sandbox's default data set (seed 1, 2,400 contacts per customer).
    all_ids = [contact["id"] for contact in customer_data("M1001").contacts]
    ids_200 = all_ids[:200]
    ids_1000 = all_ids[:1000]
    ids_100 = ids_1000[:100]
    report: dict[str, object] = {}
    with process(sandbox_command(sandbox_port, args.latency_ms), env, workdir / "sandbox.log"):
        wait_for(f"{sandbox}/_sandbox/health")
        requests.get(f"{sandbox}/CRM/Contact/M1001/{all_ids[0]}", auth=("demo", "demo"), timeout=30)

        # 1 and 3: as deployed (gunicorn.conf.py's workers and threads).
        workers = min(2 * (os.cpu_count() or 1) + 1, 8)
        with process(gunicorn_default_command(web_port), env, workdir / "gunicorn.log") as master:
            wait_for(f"http://127.0.0.1:{web_port}/accounts/login/")
            site = Site(
                f"http://127.0.0.1:{web_port}",
                log_in(f"http://127.0.0.1:{web_port}"),
                credential_id,
                master.pid,
            )
            for name, ids in (("200", ids_200), ("1000", ids_1000)):
                cold, first_rows, in_flight = [], [], 0
                for _ in range(args.repeat):
                    clear_cache(env)
                    requests.post(f"{sandbox}/_sandbox/stats/reset", timeout=10)
                    first, whole = site.streamed(ids)
                    cold.append(whole)
                    first_rows.append(first)
                    stats = requests.get(f"{sandbox}/_sandbox/stats", timeout=10).json()
                    in_flight = max(in_flight, stats["max_in_flight"])
                requests.post(f"{sandbox}/_sandbox/stats/reset", timeout=10)
                cached, _ = median_of(site.again, args.repeat)
                stats = requests.get(f"{sandbox}/_sandbox/stats", timeout=10).json()
                cached_calls = len(stats["requests"])
                seq, _ = median_of(lambda ids=ids: sequential(sandbox, ids), 1)
                report[name] = {
                    "cold": statistics.median(cold),
                    "first_rows": statistics.median(first_rows),
                    "max_in_flight": in_flight,
                    "cached": cached,
                    "cached_calls": cached_calls,
                    "sequential": seq,
                }
                print(
                    f"{name} ids: cold {statistics.median(cold):.2f} s (first rows "
                    f"{statistics.median(first_rows):.2f} s), cached {cached:.3f} s, "
                    f"sequential client {seq:.2f} s; cached Vitec calls {cached_calls}, "
                    f"at most {in_flight} in flight"
                )
            report["concurrency"] = int(env.get("VITEC_MAX_CONCURRENCY", "10"))
            report["cap"] = int(env.get("VITEC_CUSTOMER_MAX_IN_FLIGHT", "20"))
            site.page(ids_100)  # cached from here on
            report["load"] = run_wrk(site, ids_100, args.load_seconds, args.connections)
            report["load_workers"] = workers
            print(
                f"load: {report['load']['rps']} req/s, p50 {report['load']['p50']}, "
                f"p99 {report['load']['p99']}, errors {report['load']['errors']}"
            )
            # A bare page in the same conditions: what the stack costs without the list.
            bare = f"http://127.0.0.1:{web_port}/accounts/login/"
            report["bare"] = wrk(site, bare, args.load_seconds, args.connections)
            print(f"bare page: {report['bare']['rps']} req/s, p99 {report['bare']['p99']}")
            report["memory"] = [rss_mb(pid) for pid in worker_pids(master.pid)]
            print(f"workers' memory after the load: {report['memory']} MB")

        # 2: one worker, one thread, so its peak memory is the export's.
        with process(gunicorn(1, 1), env, workdir / "gunicorn-mem.log") as master:
            wait_for(f"http://127.0.0.1:{web_port}/accounts/login/")
            site = Site(
                f"http://127.0.0.1:{web_port}",
                log_in(f"http://127.0.0.1:{web_port}"),
                credential_id,
                master.pid,
            )
            (worker,) = worker_pids(master.pid)
            site.page(ids_1000[:1])  # an empty-ish request: one contact
            export_url = site.view_url(ids_1000)
            base_mb = peak_rss_mb(worker)
            clear_cache(env)
            cold_s, rows = site.export(export_url)
            cold_mb = peak_rss_mb(worker)
            cached_s, _ = site.export(export_url)
            cached_mb = peak_rss_mb(worker)
            report["csv"] = {
                "cold": cold_s,
                "cached": cached_s,
                "rows": rows,
                "base_mb": base_mb,
                "cold_mb": cold_mb,
                "cached_mb": cached_mb,
            }
            print(
                f"CSV of {rows} rows: cold {cold_s:.2f} s, cached {cached_s:.2f} s; peak RSS "
                f"{base_mb:.1f} MB after an empty request, {cold_mb:.1f} MB after the exports "
                f"(+{cold_mb - base_mb:.1f} MB)"
            )

    write_report(Path(args.output), report, args, use_pg=use_pg, use_redis=use_redis)


def ms(text: str) -> float:
    """wrk's duration ("717.36ms", "1.46s", "80us") in milliseconds."""
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60_000}[unit]


def write_report(path: Path, r: dict, args, *, use_pg: bool, use_redis: bool) -> None:
    latency = args.latency_ms / 1000
    rps, p99 = float(r["load"]["rps"]), ms(r["load"]["p99"])
    lines = [
        "# Benchmarks",
        "",
        f"Measured by `make bench` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: "
        f"{platform.machine()}, {os.cpu_count()} cores ({cpu_model()}), {memory_gb()} GB memory, "
        f"Python {platform.python_version()}, "
        f"{'PostgreSQL' if use_pg else 'SQLite'} and {'Redis' if use_redis else 'local memory'}, "
        f"the dashboard under gunicorn as deployed ({r['load_workers']} workers x 16 threads), "
        f"the Vitec sandbox answering each call after {args.latency_ms} ms. "
        "All over real HTTP on loopback.",
        "",
        "## Lookups",
        "",
        "| ids | first rows, cold | page, cold | before (2026-11-27) | page, cached | "
        "sequential client |",
        "|---|---|---|---|---|---|",
    ]
    for name in ("200", "1000"):
        x = r[name]
        lines.append(
            f"| {name} | {x['first_rows']:.2f} s | {x['cold']:.2f} s | {BEFORE[name]:.2f} s "
            f"({BEFORE[name] / x['cold']:.1f}x faster now) | {x['cached']:.3f} s | "
            f"{x['sequential']:.2f} s |"
        )
    rounds = -(-50 // r["concurrency"])  # 1,000 ids: 50 calls, `concurrency` at once
    targets = [
        ("200 ids cold: at most 2 round trips + 200 ms", r["200"]["cold"], 2 * latency + 0.2),
        (
            "1,000 ids: first rows within 1 round trip + 200 ms",
            r["1000"]["first_rows"],
            latency + 0.2,
        ),
        (
            f"1,000 ids: all within ceil(50 / {r['concurrency']}) = {rounds} round trips + 300 ms",
            r["1000"]["cold"],
            rounds * latency + 0.3,
        ),
    ]
    in_flight = max(r["200"]["max_in_flight"], r["1000"]["max_in_flight"])
    lines += [
        "",
        "Cold: the form posted, then the page read part by part as a browser reads it (a long "
        "lookup is streamed as Vitec answers); first rows: until the first contact's row has "
        f"arrived. Medians of {args.repeat} runs after clearing the cache. Targets:",
        "",
        *(
            f"- {label} ({bound:.2f} s): {value:.2f} s, {'met' if value <= bound else 'NOT met'}."
            for label, value, bound in targets
        ),
        f"- Vitec calls in flight at most {in_flight} (the cap {r['cap']}): "
        f"{'met' if in_flight <= r['cap'] else 'NOT met'}.",
        "",
        "Vitec calls made by the cached pages, counted by the sandbox: "
        f"{r['200']['cached_calls']} (200 ids), {r['1000']['cached_calls']} (1,000 ids).",
        "",
        "## CSV export of 1,000 contacts",
        "",
        "| | time | peak memory of the worker |",
        "|---|---|---|",
        f"| after an empty request | | {r['csv']['base_mb']:.1f} MB |",
        f"| cold (from Vitec) | {r['csv']['cold']:.2f} s | {r['csv']['cold_mb']:.1f} MB |",
        f"| cached | {r['csv']['cached']:.2f} s | {r['csv']['cached_mb']:.1f} MB |",
        "",
        f"{r['csv']['rows']} rows. Peak memory (VmHWM) grew by "
        f"{r['csv']['cold_mb'] - r['csv']['base_mb']:.1f} MB over an empty request "
        f"(target: under 30 MB: "
        f"{'met' if r['csv']['cold_mb'] - r['csv']['base_mb'] < 30 else 'NOT met'}).",
        "",
        f"## Load: {args.connections} concurrent brokers for {args.load_seconds} s",
        "",
        "Cached lookups of 100 ids (wrk, one logged-in session):",
        "",
        "| page | requests | requests/s | p50 | p99 | errors |",
        "|---|---|---|---|---|---|",
        f"| list, 100 ids cached | {r['load']['requests']} | {r['load']['rps']} | "
        f"{r['load']['p50']} | {r['load']['p99']} | {r['load']['errors']} |",
        f"| before (2026-11-27) | | {BEFORE['rps']} | {BEFORE['p50']:.0f}ms | "
        f"{BEFORE['p99'] / 1000:.2f}s | 0 |",
        f"| bare (the login page) | {r['bare']['requests']} | {r['bare']['rps']} | "
        f"{r['bare']['p50']} | {r['bare']['p99']} | {r['bare']['errors']} |",
        "",
        f"Against before: {rps / BEFORE['rps']:.1f}x the requests a second, p50 "
        f"{BEFORE['p50'] / ms(r['load']['p50']):.1f}x and p99 {BEFORE['p99'] / p99:.1f}x "
        f"shorter. The list page runs at {rps / float(r['bare']['rps']):.0%} of a bare page's "
        f"rate. Target: at least 85 requests/s, p99 under 1.5 s, zero errors: "
        f"{'met' if rps >= 85 and p99 < 1500 and r['load']['errors'] == '0' else 'NOT met'}.",
        "",
        f"Memory of each worker after the load runs (VmRSS): "
        f"{', '.join(f'{mb:.1f}' for mb in r['memory'])} MB (target: under 150 MB: "
        f"{'met' if max(r['memory']) < 150 else 'NOT met'}).",
        "",
    ]
    kept = other_sections(path, [line for line in lines if line.startswith("## ")])
    path.write_text("\n".join(lines) + (f"\n{kept}" if kept else ""), encoding="utf-8")


def other_sections(path: Path, own: list[str]) -> str:
    """Every `## ` section of the file but those headed `own` (the office register's, the slow
    Vitec's, the profile's): what another part of the benchmark or a person wrote stays."""
    if not path.exists():
        return ""
    text = path.read_text(encoding="utf-8")
    parts = text.split("\n## ")[1:]
    return "".join(
        f"## {part.rstrip()}\n\n"
        for part in parts
        if not any(f"## {part}".startswith(heading) for heading in own)
    )


def cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
        return re.search(r"model name\s*:\s*(.+)", text).group(1).strip()
    except (OSError, AttributeError):
        return platform.processor() or "unknown CPU"


def memory_gb() -> int:
    try:
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        return round(kb / 1024 / 1024)
    except (OSError, AttributeError):
        return 0


if __name__ == "__main__":
    sys.exit(main())
