"""The key that signs everything the portal trusts: the HMAC of stored tokens and the CSRF
tokens of the pages. There is no default: it is the operator's `PLAN_TRACKER_TOKEN_SECRET`,
or one generated on first use into `<data_dir>/token-secret` (mode 0600) and reused after.

A secret anyone can guess (a placeholder, a short word) is refused with the fix, never
warned about: with the old default, session cookies could be computed by anyone.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import tempfile
from pathlib import Path

from plan_tracker.domain.errors import DomainError
from plan_tracker.domain.messages import msg
from plan_tracker.settings import Settings

MIN_LENGTH = 32  # characters; a generated secret has 64 (48 random bytes, URL-safe base64)
MIN_DISTINCT = 10  # "aaaa…" or "0123012301…" are long but not secret
FILE_NAME = "token-secret"
# Values seen in examples and earlier releases: refused whatever their length.
PLACEHOLDERS = frozenset({"change-me-in-production", "changeme", "change-me", "secret", "password",
                          "test-token-secret", "serve-test-secret", "your-secret-here", "placeholder"})
GENERATE = "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"


class WeakSecret(DomainError):
    """The configured secret cannot be trusted; the message says how to fix it."""


def check_secret(value: str, *, origin: str) -> str:
    """`value` if it is long and varied enough and not a known placeholder, else WeakSecret."""
    value = value.strip()
    lowered = value.lower()
    fix = msg("secret.fix", generate=GENERATE, file=FILE_NAME)
    if lowered in PLACEHOLDERS or "change-me" in lowered or "changeme" in lowered:
        raise WeakSecret("secret.placeholder", origin=origin, fix=fix)
    if len(value) < MIN_LENGTH:
        raise WeakSecret("secret.too_short", origin=origin, length=len(value), minimum=MIN_LENGTH, fix=fix)
    if len(set(value)) < MIN_DISTINCT:
        raise WeakSecret("secret.too_few_distinct", origin=origin, distinct=len(set(value)), fix=fix)
    return value


def resolve_secret(settings: Settings) -> str:
    """The secret to use: the operator's, checked, or the data directory's (made on first use)."""
    if settings.token_secret is not None:
        return check_secret(settings.token_secret.get_secret_value(), origin="PLAN_TRACKER_TOKEN_SECRET")
    return _secret_file(settings.data_dir / FILE_NAME)


def _secret_file(path: Path) -> str:
    if not path.exists():
        _create(path)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise WeakSecret("secret.readable", path=path, mode=f"{mode:04o}")
    return check_secret(path.read_text(encoding="utf-8"), origin=str(path))


def _create(path: Path) -> None:
    """Write a new secret where none exists, atomically: a complete temporary file (mode 0600)
    is hard-linked to the name, which fails if another process made it first — then its
    secret is the one everybody uses."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-secret-")  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_urlsafe(48) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
