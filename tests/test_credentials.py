"""Stored Vitec credentials: encryption at rest, key rotation, the model, set_vitec_credential."""

from __future__ import annotations

import io
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.management import call_command, load_command_class
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from contacts import crypto
from contacts.crypto import CredentialDecryptionError
from contacts.models import VitecCredential

ROOT = Path(__file__).resolve().parent.parent
SECRET = "Hemligt lösenord 42 åäö!"  # long enough that no base64 token contains it by chance


@pytest.fixture(autouse=True)
def _in_english(english_messages):
    """Every test here asserts English messages."""


@pytest.fixture
def keys(settings):
    """Switch settings.CREDENTIAL_KEYS to the given Fernet keys."""

    def use(*new_keys: bytes) -> None:
        settings.CREDENTIAL_KEYS = [key.decode() for key in new_keys]

    return use


@pytest.fixture
def anna(django_user_model):
    return django_user_model.objects.create_user(username="anna")


def make_credential(user, *, customer_id="M1001", password=SECRET, **fields) -> VitecCredential:
    credential = VitecCredential(
        user=user,
        customer_id=customer_id,
        api_username=fields.pop("api_username", "demo"),
        **fields,
    )
    credential.set_password(password)
    credential.save()
    return credential


def stored_token(pk: int) -> str:
    """The password column as the database holds it."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT password_encrypted FROM {VitecCredential._meta.db_table} WHERE id = %s",  # noqa: S608
            [pk],
        )
        return cursor.fetchone()[0]


# --- crypto ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "plaintext", ["demo", SECRET, "x" * 500, "  spaces kept  ", "tecken: åäöÅÄÖ é ü ß €"]
)
def test_encrypt_then_decrypt_gives_the_plaintext_back(plaintext):
    assert crypto.decrypt_secret(crypto.encrypt_secret(plaintext)) == plaintext


@pytest.mark.parametrize("plaintext", [SECRET, "correct horse battery staple"])
def test_token_neither_is_nor_contains_the_plaintext(plaintext):
    token = crypto.encrypt_secret(plaintext)
    assert token != plaintext
    assert plaintext not in token
    assert plaintext.encode().hex() not in token


def test_two_encryptions_of_the_same_plaintext_differ():
    first, second = crypto.encrypt_secret(SECRET), crypto.encrypt_secret(SECRET)
    assert first != second  # a fresh IV and timestamp each time
    assert crypto.decrypt_secret(first) == crypto.decrypt_secret(second) == SECRET


def test_the_first_key_encrypts_and_every_key_decrypts(keys):
    old, new = Fernet.generate_key(), Fernet.generate_key()
    keys(old)
    token = crypto.encrypt_secret(SECRET)
    keys(new, old)
    assert crypto.decrypt_secret(token) == SECRET
    fresh = crypto.encrypt_secret("again").encode()
    assert Fernet(new).decrypt(fresh) == b"again"
    with pytest.raises(InvalidToken):
        Fernet(old).decrypt(fresh)


def test_rotate_secret_re_encrypts_with_the_first_key(keys):
    old, new = Fernet.generate_key(), Fernet.generate_key()
    keys(old)
    token = crypto.encrypt_secret(SECRET)
    keys(new, old)
    rotated = crypto.rotate_secret(token)
    keys(new)
    assert crypto.decrypt_secret(rotated) == SECRET
    with pytest.raises(CredentialDecryptionError):
        crypto.decrypt_secret(token)


@pytest.mark.parametrize(
    "bad_keys",
    [
        ["not-a-fernet-key"],
        ["c2hvcnQ="],  # valid base64, but 5 bytes
        ["ZGV2ZWxvcG1lbnQtb25seS1ub3QtYS1zZWNyZXQtISE=", "garbage"],  # one bad key among good
        [],
    ],
)
def test_a_bad_key_in_credential_keys_is_improperly_configured(settings, bad_keys):
    settings.CREDENTIAL_KEYS = bad_keys
    with pytest.raises(ImproperlyConfigured):
        crypto.encrypt_secret(SECRET)
    with pytest.raises(ImproperlyConfigured):
        crypto.validate_keys()


@pytest.mark.parametrize("kind", ["wrong key", "garbage token", "empty token"])
def test_decrypting_with_the_wrong_keys_raises_credential_decryption_error(keys, kind):
    keys(Fernet.generate_key())
    token = {
        "wrong key": Fernet(Fernet.generate_key()).encrypt(SECRET.encode()).decode(),
        "garbage token": "gAAAAA-not-a-token",
        "empty token": "",
    }[kind]
    with pytest.raises(CredentialDecryptionError) as excinfo:
        crypto.decrypt_secret(token)
    assert SECRET not in str(excinfo.value)


# --- rotate_credential_keys -----------------------------------------------------------------------


def rotate(*options: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    call_command("rotate_credential_keys", *options, stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


@pytest.mark.django_db
def test_rotate_credential_keys_re_encrypts_every_password_with_the_new_key(keys, anna):
    old, new = Fernet.generate_key(), Fernet.generate_key()
    keys(old)
    first = make_credential(anna, customer_id="M1001", password=SECRET)
    second = make_credential(anna, customer_id="M1002", password="another one")
    before = {first.pk: stored_token(first.pk), second.pk: stored_token(second.pk)}

    keys(new, old)
    assert VitecCredential.objects.get(pk=first.pk).get_password() == SECRET  # old still decrypts
    output = rotate()

    assert "Re-encrypted 2 credentials" in output
    assert SECRET not in output and before[first.pk] not in output
    keys(new)  # the old key dropped
    assert VitecCredential.objects.get(pk=first.pk).get_password() == SECRET
    assert VitecCredential.objects.get(pk=second.pk).get_password() == "another one"
    assert stored_token(first.pk) != before[first.pk]
    keys(old)
    with pytest.raises(CredentialDecryptionError):
        VitecCredential.objects.get(pk=first.pk).get_password()


@pytest.mark.django_db
def test_rotate_credential_keys_dry_run_changes_nothing(keys, anna):
    old, new = Fernet.generate_key(), Fernet.generate_key()
    keys(old)
    credential = make_credential(anna)
    before = stored_token(credential.pk)
    keys(new, old)

    output = rotate("--dry-run")

    assert "Dry run: 1 credential would be re-encrypted" in output
    assert stored_token(credential.pk) == before
    keys(new)
    with pytest.raises(CredentialDecryptionError):
        VitecCredential.objects.get(pk=credential.pk).get_password()


@pytest.mark.django_db
@pytest.mark.parametrize("dry_run", [False, True])
def test_rotate_credential_keys_fails_whole_on_an_undecryptable_password(keys, anna, dry_run):
    lost, old, new = Fernet.generate_key(), Fernet.generate_key(), Fernet.generate_key()
    keys(old)
    readable = make_credential(anna, customer_id="M1001")
    keys(lost)
    unreadable = make_credential(anna, customer_id="M1002")
    before = {c.pk: stored_token(c.pk) for c in (readable, unreadable)}
    keys(new, old)

    with pytest.raises(CommandError) as excinfo:
        rotate(*(["--dry-run"] if dry_run else []))

    message = str(excinfo.value)
    assert f"credential id {unreadable.pk}" in message
    assert f"{readable.pk}," not in message
    assert SECRET not in message and before[unreadable.pk] not in message
    assert excinfo.value.returncode != 0
    assert {c.pk: stored_token(c.pk) for c in (readable, unreadable)} == before  # untouched


@pytest.mark.django_db
def test_rotate_credential_keys_with_a_garbage_key_is_a_command_error(settings):
    settings.CREDENTIAL_KEYS = ["garbage"]
    with pytest.raises(CommandError, match="not a Fernet key"):
        rotate()


@pytest.mark.django_db
def test_rotate_credential_keys_with_no_credentials_says_zero():
    assert "Re-encrypted 0 credentials" in rotate()


# --- the model ------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("customer_id", "valid"),
    [
        ("M30011", True),
        ("S1", True),
        ("O2", True),
        ("G3", True),
        ("T4", True),
        ("M" + "9" * 38, True),
        ("m30011", False),
        ("X1", False),
        ("M", False),
        ("M12a", False),
        ("", False),
        (" M1", False),
        ("M1 ", False),
        ("M-1", False),
        ("M" + "9" * 39, False),
        ("M1\n", False),  # `$` would match before a trailing newline
    ],
)
def test_customer_id_validator(anna, customer_id, valid):
    credential = VitecCredential(user=anna, customer_id=customer_id, api_username="demo")
    credential.set_password(SECRET)
    if valid:
        credential.full_clean()
    else:
        with pytest.raises(ValidationError) as excinfo:
            credential.full_clean()
        assert "customer_id" in excinfo.value.message_dict


@pytest.mark.django_db
def test_one_credential_per_user_and_customer(anna, django_user_model):
    make_credential(anna, customer_id="M1001")
    duplicate = VitecCredential(user=anna, customer_id="M1001", api_username="other")
    duplicate.set_password("other")
    with pytest.raises(ValidationError):
        duplicate.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        duplicate.save()

    bertil = django_user_model.objects.create_user(username="bertil")
    make_credential(bertil, customer_id="M1001")  # another user may hold the same customer
    make_credential(anna, customer_id="M1002")  # and the same user another customer
    assert VitecCredential.objects.count() == 3


@pytest.mark.django_db
@pytest.mark.parametrize("label", ["", "Kontoret i Solna", SECRET])
def test_str_never_contains_the_password(anna, label):
    password = "pw-" + "z" * 20
    credential = make_credential(anna, password=password, label=label)
    text = str(credential)
    assert password not in text
    assert credential.password_encrypted not in text
    assert "M1001" in text


@pytest.mark.django_db
def test_the_database_holds_only_the_token(anna):
    credential = make_credential(anna)
    token = stored_token(credential.pk)
    assert SECRET not in token
    assert VitecCredential.objects.get(pk=credential.pk).get_password() == SECRET


# --- set_vitec_credential -------------------------------------------------------------------------


def set_credential(*args: str, stdin: str | None = None) -> str:
    """Run the command in-process; its stdout and stderr together."""
    out, err = io.StringIO(), io.StringIO()
    options = {"stdout": out, "stderr": err}
    if stdin is not None:
        options["stdin"] = io.StringIO(stdin)
    call_command("set_vitec_credential", *args, **options)
    return out.getvalue() + err.getvalue()


BASE_ARGS = ("anna", "--customer-id", "M1001", "--api-username", "anna.api", "--password-stdin")


@pytest.mark.django_db
def test_set_vitec_credential_creates_a_credential(anna):
    output = set_credential(*BASE_ARGS, "--label", "Kontoret", stdin=SECRET + "\n")

    credential = VitecCredential.objects.get()
    assert output.strip() == "Created credential M1001 for anna"
    assert (credential.user, credential.customer_id) == (anna, "M1001")
    assert (credential.api_username, credential.label, credential.is_active) == (
        "anna.api",
        "Kontoret",
        True,
    )
    assert credential.get_password() == SECRET
    assert SECRET not in output and credential.password_encrypted not in output
    assert SECRET not in stored_token(credential.pk)


@pytest.mark.django_db
def test_set_vitec_credential_updates_the_same_user_and_customer(anna):
    set_credential(*BASE_ARGS, "--label", "Kontoret", stdin="first password\n")
    first = VitecCredential.objects.get()
    VitecCredential.objects.filter(pk=first.pk).update(
        last_verified_at=timezone.now(), last_error="old"
    )

    output = set_credential(
        "anna", "--customer-id", "M1001", "--api-username", "new.api", "--password-stdin",
        "--inactive", stdin="second password\n",
    )  # fmt: skip

    credential = VitecCredential.objects.get()  # still one row
    assert output.strip() == "Updated credential M1001 for anna"
    assert credential.pk == first.pk
    assert credential.get_password() == "second password"
    assert credential.api_username == "new.api"
    assert credential.label == "Kontoret"  # kept: no --label given
    assert credential.is_active is False
    assert (credential.last_verified_at, credential.last_error) == (None, "")  # a new login
    assert "second password" not in output and "first password" not in output


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("stdin", "password"),
    [
        ("pw\n", "pw"),
        ("pw", "pw"),
        ("pw\r\n", "pw"),
        (" pw with spaces \n", " pw with spaces "),
        ("åäö-lösen\n", "åäö-lösen"),
    ],
)
def test_set_vitec_credential_reads_the_password_from_stdin(anna, stdin, password):
    set_credential(*BASE_ARGS, stdin=stdin)
    assert VitecCredential.objects.get().get_password() == password


@pytest.mark.django_db
def test_set_vitec_credential_falls_back_to_sys_stdin(anna, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(SECRET + "\n"))
    set_credential(*BASE_ARGS)
    assert VitecCredential.objects.get().get_password() == SECRET


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (
            ("ghost", "--customer-id", "M1001", "--api-username", "x", "--password-stdin"),
            SECRET,
            "There is no user named ghost",
        ),
        (
            ("anna", "--customer-id", "X1001", "--api-username", "x", "--password-stdin"),
            SECRET,
            "customer_id: A customer id is a letter M, S, O, G or T followed by digits",
        ),
        (
            ("anna", "--customer-id", "m1001", "--api-username", "x", "--password-stdin"),
            SECRET,
            "customer_id:",
        ),
        (
            ("anna", "--customer-id", "M1001", "--api-username", "x"),
            SECRET,
            "--password-stdin",
        ),
        (BASE_ARGS, "", "The password on standard input is empty"),
        (BASE_ARGS, "\n", "The password on standard input is empty"),
        (BASE_ARGS, SECRET + "\nsecond line\n", "must be a single line"),
        (
            ("anna", "--customer-id", "M1001", "--api-username", "", "--password-stdin"),
            SECRET,
            "api_username:",
        ),
        (("anna", "--api-username", "x", "--password-stdin"), SECRET, "--customer-id"),
    ],
    ids=[
        "unknown user",
        "bad customer id",
        "lower-case customer id",
        "no --password-stdin",
        "empty stdin",
        "only a newline",
        "two lines",
        "empty api user name",
        "no --customer-id",
    ],
)
def test_set_vitec_credential_refuses_with_a_clear_message(anna, args, stdin, message):
    with pytest.raises(CommandError) as excinfo:
        set_credential(*args, stdin=stdin)
    assert message in str(excinfo.value)
    assert SECRET not in str(excinfo.value)
    assert not VitecCredential.objects.exists()


def _subprocess_env(tmp_path: Path, settings) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"SECRET_KEY", "CREDENTIAL_KEYS", "DATABASE_URL", "CACHE_URL"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="crmviewer.settings",
        DEBUG="1",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        CACHE_URL="locmemcache://",
        CREDENTIAL_KEYS=",".join(settings.CREDENTIAL_KEYS),
    )
    return env


def _manage(env: dict[str, str], *args: str, stdin: str | None = None):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# Migrate the database and add anna, in one process.
MIGRATE_AND_CREATE_ANNA = (
    "from django.core.management import call_command; "
    "from django.contrib.auth.models import User; "
    "call_command('migrate', interactive=False, verbosity=0); "
    "User.objects.create(username='anna')"
)


def test_set_vitec_credential_reads_a_real_stdin(tmp_path, settings):
    """A real pipe, in the locale's encoding, with a password outside ASCII (the in-process tests
    above give the command a StringIO)."""
    env = _subprocess_env(tmp_path, settings)
    prepared = _manage(env, "shell", "-c", MIGRATE_AND_CREATE_ANNA)
    assert prepared.returncode == 0, prepared.stderr

    result = _manage(env, "set_vitec_credential", *BASE_ARGS, "--label", "K", stdin=SECRET + "\n")

    assert result.returncode == 0, result.stderr
    assert "M1001" in result.stdout and "anna" in result.stdout
    assert SECRET not in result.stdout + result.stderr
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        rows = db.execute(
            "SELECT customer_id, api_username, password_encrypted FROM contacts_viteccredential"
        ).fetchall()
    assert [(customer, api_user) for customer, api_user, _ in rows] == [("M1001", "anna.api")]
    token = rows[0][2]
    assert SECRET not in token
    assert crypto.decrypt_secret(token) == SECRET
    assert token not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("command", "option"),
    [("set_vitec_credential", "--password-stdin"), ("rotate_credential_keys", "--dry-run")],
)
def test_command_help_renders(command, option):
    parser = load_command_class("contacts", command).create_parser("manage.py", command)
    assert option in parser.format_help()
