"""Apply a .env file to the environment so that reading it again picks up its changes.

django-environ's own `Env.read_env` only fills in variables that are not set yet. In gunicorn's
master that made a reload (`kill -HUP`) keep the values the file had at start: the master read
the file into its environment, re-ran gunicorn.conf.py on HUP and forked workers that read the
file again, and each read left the old values alone. `load_dotenv` tells a variable the file set
from one the real environment set:

- a variable the real environment set (the service manager, the shell) always wins;
- a variable an earlier load of the file set is replaced by the file's value now, and removed
  when the file no longer has it.

Which variables the file set is kept in the environment itself, in CRMVIEWER_DOTENV_KEYS, so the
rule holds across processes: gunicorn's master re-running its configuration, the workers it forks.
Each name is kept with a short hash of the value the file gave it (never the value): a variable
whose value has changed since, say in a child process started with an explicit value, was set by
someone else and wins.

No Django import here: gunicorn.conf.py uses this in gunicorn's master.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import MutableMapping
from pathlib import Path

import environ as django_environ

# Names the variables the file set, each with the hash of the value it set: NAME:hash,NAME:hash.
OWNED_KEYS_VARIABLE = "CRMVIEWER_DOTENV_KEYS"
# The .env file to read instead of the project folder's; it must exist.
ENV_FILE_VARIABLE = "CRMVIEWER_ENV_FILE"
# Variables a .env file cannot set: they steer the loading itself.
_RESERVED = frozenset({OWNED_KEYS_VARIABLE, ENV_FILE_VARIABLE})


def _fingerprint(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def _owned(environ: MutableMapping[str, str]) -> set[str]:
    """The variables an earlier load set and that still hold the value it gave them."""
    owned = set()
    for entry in environ.get(OWNED_KEYS_VARIABLE, "").split(","):
        key, _, fingerprint = entry.partition(":")
        if key in environ and fingerprint == _fingerprint(environ[key]):
            owned.add(key)
    return owned


def read_dotenv(path: str | os.PathLike[str], *, required: bool = False) -> dict[str, str]:
    """The variables of a .env file, parsed by django-environ, without touching the environment.

    A missing file gives {} unless `required`; a file that exists but cannot be read raises.
    """
    try:
        content = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        if required:
            raise
        return {}

    class _Collect(django_environ.Env):
        ENVIRON: dict[str, str] = {}  # read_env writes here instead of os.environ

    _Collect.read_env(io.StringIO(content), overwrite=True)
    return {key: value for key, value in _Collect.ENVIRON.items() if key not in _RESERVED}


def load_dotenv(
    default_path: str | os.PathLike[str],
    environ: MutableMapping[str, str] = os.environ,
) -> dict[str, str]:
    """Apply the .env file to `environ` (see the module's docstring); the values it set.

    The file is the one named by CRMVIEWER_ENV_FILE, which must then exist, else `default_path`
    (the project folder's .env), which may be missing: then the file sets nothing, and what an
    earlier load of it set is removed.
    """
    named = environ.get(ENV_FILE_VARIABLE, "")
    values = read_dotenv(named or default_path, required=bool(named))
    owned = _owned(environ)
    for key in owned - values.keys():  # gone from the file
        del environ[key]
    applied = {}
    for key, value in values.items():
        if key in environ and key not in owned:
            continue  # set by the real environment, which wins
        environ[key] = value
        applied[key] = value
    if applied:
        environ[OWNED_KEYS_VARIABLE] = ",".join(
            f"{key}:{_fingerprint(value)}" for key, value in sorted(applied.items())
        )
    else:
        environ.pop(OWNED_KEYS_VARIABLE, None)
    return applied
