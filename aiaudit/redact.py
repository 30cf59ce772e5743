"""Redaction of secrets in everything the suite writes (HTML, JSON, JUnit, terminal).

A found secret is shown as its rule, first 4 characters, length and a hash prefix, e.g.
``sk-p…[56]#1a2b3c`` - enough for an operator to find and rotate it, useless to a reader.
"""

from __future__ import annotations

import hashlib
import re
import threading

# Shapes of common credentials. Kept specific: these run over every output string.
SECRET_PATTERNS: dict[str, re.Pattern[str]] = {
    name: re.compile(rx)
    for name, rx in {
        "openai": r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}",
        "anthropic": r"sk-ant-[A-Za-z0-9_-]{20,}",
        "github": r"(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})",
        "aws-access-key": r"(?:AKIA|ASIA)[0-9A-Z]{16}",
        "google-api-key": r"AIza[0-9A-Za-z_-]{35}",
        "slack": r"xox[abposr]-[0-9A-Za-z-]{10,}",
        "stripe": r"(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,}",
        "huggingface": r"hf_[A-Za-z0-9]{30,}",
        "jwt": r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
        "private-key": (
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)"
        ),
        "bearer": r"(?i)(?<=bearer )[A-Za-z0-9._~+/-]{12,}=*",
        "url-password": r"(?<=://)[^/\s:@]+:[^/\s@]+(?=@)",
    }.items()
}

# One pass over the union of the shapes first: most strings hold no secret, and one search
# is ten times cheaper than a substitution per shape (the audit redacts every evidence line).
_ANY_SECRET = re.compile("|".join(
    f"(?i:{p.pattern[4:]})" if p.pattern.startswith("(?i)") else f"(?:{p.pattern})"
    for p in SECRET_PATTERNS.values()))
_known: set[str] = set()
_known_sorted: list[str] = []
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Remember a secret the suite itself holds (API keys, user tokens) so no output shows it."""
    if value and len(value) >= 6:
        with _lock:
            _known.add(value)
            _known_sorted[:] = sorted(_known, key=len, reverse=True)


def mask(value: str) -> str:
    """The redacted form of one secret value."""
    digest = hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()[:6]
    keep = min(4, len(value) // 4)  # short secrets must not be mostly shown
    return f"{value[:keep]}…[{len(value)}]#{digest}"


def redact(text: str) -> str:
    """Replace every known secret and every secret-shaped string in text."""
    if not text:
        return text
    with _lock:
        known = list(_known_sorted)
    for value in known:
        if value in text:
            text = text.replace(value, mask(value))
    if not _ANY_SECRET.search(text):
        return text
    for pattern in SECRET_PATTERNS.values():
        text = pattern.sub(lambda m: mask(m.group(0)), text)
    return text


def redact_obj(obj):
    """Redact every string inside a JSON-like structure."""
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, dict):
        return {redact(str(k)): redact_obj(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [redact_obj(v) for v in obj]
    return obj
