"""gunicorn's settings for serving crmviewer in production: `gunicorn -c gunicorn.conf.py`.

Read from the environment (or the project's .env file, or the file CRMVIEWER_ENV_FILE names),
like Django's settings, and read again at every reload (SIGHUP); see README.md, "Deploy". The
application itself needs its own settings too (DEBUG off: SECRET_KEY, ...).
"""

import logging
import os
from pathlib import Path

import environ

from crmviewer.dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent
# gunicorn runs this file again on SIGHUP (reload), before it starts new workers: the .env file's
# changes replace what it set before, and reach the workers' settings too.
load_dotenv(BASE_DIR / ".env")
env = environ.Env()


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the cores this process may run on
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


wsgi_app = "crmviewer.wsgi:application"
chdir = str(BASE_DIR)

# All interfaces: behind a load balancer or reverse proxy that terminates TLS.
# A platform that hands out the port in PORT gets it.
bind = env.str("GUNICORN_BIND", default=f"0.0.0.0:{env.int('PORT', default=8000)}")

# Processes, each with threads: a lookup spends most of its time waiting for Vitec, so threads
# serve other brokers meanwhile. The usual 2 x cores + 1 processes, at most 8 (each holds its
# own copy of the application in memory); WEB_CONCURRENCY overrides it. 16 threads a process:
# with 30 brokers' lookups waiting on a slow Vitec the other pages still find free threads
# (docs/benchmarks.md, "Pages beside 30 lookups waiting on a slow Vitec": /healthz p95 3.5 s
# with 4 threads, 69 ms with 16). A waiting thread holds no database connection
# (contacts/services/lookup.py); PostgreSQL's max_connections should still exceed
# workers x threads (5 x 16 = 80 on 2 cores; PostgreSQL's default is 100).
workers = env.int("WEB_CONCURRENCY", default=min(2 * _cores() + 1, 8))
worker_class = "gthread"
threads = env.int("GUNICORN_THREADS", default=16)

# A page's rough budget: VITEC_TIMEOUT for the first Vitec attempt and for each retry, and 60 s
# for the waits between attempts and the rest of the page. With threads (gthread), `timeout` only
# restarts a worker that stopped answering gunicorn altogether, never one slow request; the same
# time is what requests still running get to finish when gunicorn stops or restarts a worker.
_page_budget = (
    env.float("VITEC_TIMEOUT", default=10.0) * (env.int("VITEC_MAX_RETRIES", default=2) + 1) + 60
)
timeout = env.int("GUNICORN_TIMEOUT", default=int(_page_budget))
graceful_timeout = timeout

# No control socket (gunicornc): nothing here uses it, and every gunicorn of one user would put
# it at the same path ($HOME/.gunicorn/gunicorn.ctl) unless told otherwise.
control_socket_disable = True

# The proxies whose X-Forwarded-Proto (and the like) gunicorn believes; gunicorn's own default.
forwarded_allow_ips = env.str("FORWARDED_ALLOW_IPS", default="127.0.0.1,::1")

# The access log goes to standard output, like the application's log, and names the request id
# and the path without its query string (contact ids are there); no referrer, for the same reason.
# The application logs every request too (crmviewer.request, with the user id):
# GUNICORN_ACCESS_LOG=off keeps just that line. gunicorn's own messages go to standard error.
accesslog = None if env.str("GUNICORN_ACCESS_LOG", default="-") in {"", "off"} else "-"
access_log_format = (
    '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms request_id=%({x-request-id}o)s "%(a)s"'
)
errorlog = "-"
loglevel = env.str("LOG_LEVEL", default="INFO").lower()


def post_worker_init(worker) -> None:
    """In a worker, once Django has configured logging: gunicorn's lines in the application's
    format (JSON with LOG_FORMAT=json) and through its filters (request id, secrets redacted).
    Where they go and which are written stays as configured above."""
    console = logging.getHandlerByName("console")  # settings.LOGGING
    if console is None:
        return
    for name in ("gunicorn.error", "gunicorn.access"):
        for handler in logging.getLogger(name).handlers:
            handler.setFormatter(console.formatter)
            for log_filter in console.filters:
                handler.addFilter(log_filter)
