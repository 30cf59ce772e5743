"""STO-04 facts from inside databases: provider keys kept in an app's config tables.

Open WebUI keeps provider keys in its `config` table (one JSON row per key; before 0.9 one
JSON document) and its users' API keys in clear in `api_key.key` (0.12.4; older versions a
`user.api_key` column); OpenClaw's `state/openclaw.sqlite` holds a plain secret store. These
never show up in a file search, so the tables of the located SQLite stores are read from
the private copy: tables named like configuration or secrets (every text cell), and
secret-named columns of any table, and the columns a product's source shows it keeps
credentials in as issued (`plaintext_credentials`). A JSON cell is walked key by key.
Password hashes and references to a secrets manager pass.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from aiaudit.redact import mask
from aiaudit.storage.configsecrets import REFERENCE, REFERENCE_KEY
from aiaudit.storage.fileformat import ZSTD_MAGIC
from aiaudit.storage.secrets.engine import Finding, scan_bytes
from aiaudit.storage.sqlitefacts import _columns, _quote, user_tables

CONFIG_TABLE = re.compile(r"(?i)config|setting|secret|credential|api_?key|auth_?profile|"
                          r"provider|vault|keychain|oauth")
SECRET_WORDS = frozenset({"apikey", "secret", "token", "password", "passwd", "credential",
                          "credentials", "bearer", "passphrase"})
SECRET_PAIRS = frozenset({("api", "key"), ("private", "key"), ("access", "key"),
                          ("secret", "key"), ("client", "secret"),
                          # n8n's `config` encryptionKey, which opens every credential
                          ("encryption", "key")})
PLURAL = {"keys": "key", "secrets": "secret", "passwords": "password", "apikeys": "apikey"}
# A last word that makes the name about a secret, not the secret: token_count, api_key_id.
NOT_VALUE = frozenset({"count", "id", "ids", "type", "at", "expiry", "expires", "usage",
                       "limit", "limits", "length", "len", "name", "url", "file", "path", "env",
                       "ref", "hint", "prefix", "enabled", "required", "set", "header",
                       "hash", "hashed", "digest", "sha256", "fingerprint"})
# A first word that makes the column a one-way hash of the secret: hashed_api_key (Langflow).
HASH_FIRST = frozenset({"hashed", "hash", "digest"})
# Stored one-way hashes are not secrets one can use (bcrypt, argon2, scrypt, pbkdf2, crypt).
HASHED = re.compile(r"^(?:\$(?:2[abxy]?|argon2(?:id|i|d)?|scrypt|pbkdf2[-_\w]*|[156y])\$|"
                    r"pbkdf2_sha\d+\$|sha\d+\$|\{(?:SSHA|SHA|BCRYPT)[^}]*\})")
MAX_ROWS = 20_000  # per table: config tables are small; history tables are not read here
MAX_CELL = 1024 * 1024


@dataclass
class TableFacts:
    tables: list[str] = field(default_factory=list)  # "table" or "table.column" read
    findings: list[Finding] = field(default_factory=list)
    references: list[str] = field(default_factory=list)


def secret_named(name: str) -> bool:
    """`api_key`, `apiKey`, `auth.token`: yes; `input_tokens`, `token_count`: no."""
    name = re.sub(r"(?:\[\d+\])+$", "", name)  # a list element is named by its list
    words = [PLURAL.get(w, w) for w in
             re.findall(r"[a-z0-9]+", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower())]
    if not words or words[-1] in NOT_VALUE or words[0] in HASH_FIRST:
        return False
    return bool(SECRET_WORDS.intersection(words)
                or SECRET_PAIRS.intersection(zip(words, words[1:], strict=False)))


FERNET = re.compile(r"^gAAAAA[A-Za-z0-9_-]{70,}={0,2}$")


def is_fernet_token(value: str) -> bool:
    """A Fernet token (cryptography.fernet, what Langflow stores credentials as): version
    byte 0x80, 8-byte time, 16-byte IV, whole AES blocks, 32-byte HMAC. It is ciphertext;
    the key that opens it is a separate secret (Langflow's `secret_key` file)."""
    import base64
    import binascii

    if not FERNET.match(value):
        return False
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return False
    return raw[:1] == b"\x80" and len(raw) >= 73 and (len(raw) - 57) % 16 == 0


def _literal(key: str, value: str) -> bool:
    value = value.strip()
    if not value or len(value) < 8 or value.isdigit() or is_fernet_token(value):
        return False
    if REFERENCE_KEY.search(key) or REFERENCE.match(value) or HASHED.match(value):
        return False
    return not value.startswith(("{", "["))  # a nested document: walked, not judged whole


def _walk(node: Any, path: str) -> Iterator[tuple[str, str]]:
    """(dotted key, string value) for every string leaf of a JSON document."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _walk(v, f"{path}.{k}" if path else str(k))
    elif isinstance(node, list):
        for i, v in enumerate(node[:1000]):
            yield from _walk(v, f"{path}[{i}]")
    elif isinstance(node, str):
        yield path, node


def _finding(where: str, key: str, value: str) -> Finding:
    raw = value.encode("utf-8", "replace")
    return Finding("literal-secret-in-config-table", where, 0, f"{key}={mask(value)}",
                   len(raw), hashlib.sha256(raw).hexdigest()[:12])


def credential_finding(where: str, key: str, value: str) -> Finding:
    """A literal value of a setting the product names as a credential."""
    return _finding(where, key.rsplit(" ", 1)[-1], value)


def _secret_refs(node: Any, path: str) -> Iterator[str]:
    """Dotted keys holding a SecretRef object (`{source, provider?, id}`: OpenClaw's
    `--secret-input-mode ref`, docs/reference/secretref-credential-surface.md)."""
    if isinstance(node, dict):
        if isinstance(node.get("source"), str) and isinstance(node.get("id"), str) and path:
            yield f"{path} (SecretRef {node['source']}:{node['id']})"
            return
        for k, v in node.items():
            yield from _secret_refs(v, f"{path}.{k}" if path else str(k))
    elif isinstance(node, list):
        for i, v in enumerate(node[:1000]):
            yield from _secret_refs(v, f"{path}[{i}]")


def document_secrets(where: str, doc: Any, facts: TableFacts, seen: set[str]) -> None:
    """Literals under secret-named keys of a parsed JSON/YAML document (refs are noted)."""
    facts.references += [f"{where}: {ref}" for ref in _secret_refs(doc, "")
                         if secret_named(ref.split(" ", 1)[0].rsplit(".", 1)[-1])]
    for key, value in _walk(doc, ""):
        leaf = key.rsplit(".", 1)[-1]
        if not secret_named(leaf):
            continue
        if not _literal(leaf, value):
            facts.references.append(f"{where}: {key}")
            continue
        finding = _finding(where, key, value)
        if finding.digest not in seen:
            facts.findings.append(finding)
            seen.add(finding.digest)


def judge_cell(where: str, column: str, text: str, facts: TableFacts) -> None:
    """Secrets in one cell: rule matches anywhere, literals under secret-named keys."""
    found = scan_bytes(text.encode("utf-8", "replace"), where)
    facts.findings.extend(found)
    try:
        doc = json.loads(text) if text[:1] in "{[" else None
    except ValueError:
        doc = None
    document_secrets(where, doc if doc is not None else {column: text}, facts,
                     {f.digest for f in found})


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        if len(value) > MAX_CELL or value.startswith(ZSTD_MAGIC):
            return None
        value = value.decode("utf-8", "replace")
    return value[:MAX_CELL] if isinstance(value, str) and len(value) >= 8 else None


def _rows(conn: Any, table: str, select: str) -> Any:
    return conn.execute(f"SELECT {select} FROM {_quote(table)} LIMIT {MAX_ROWS}")


def table_facts(conn: Any, label: str, config_tables: tuple[str, ...] = (),
                not_secret: tuple[str, ...] = ()) -> TableFacts:
    """Read config-like tables and secret-named columns of an open store copy;
    `config_tables` are more tables a product keeps settings or credentials in,
    `not_secret` ("table.column") columns its source shows hold no secret."""
    facts = TableFacts()
    for table in user_tables(conn):
        columns = [c for c in _columns(conn, table) if f"{table}.{c}" not in not_secret]
        if CONFIG_TABLE.search(table) or table in config_tables:
            wanted = columns
            facts.tables.append(table)
        else:
            wanted = [c for c in columns if secret_named(c)]
            facts.tables += [f"{table}.{c}" for c in wanted]
        if not wanted:
            continue
        select = ", ".join(_quote(c) for c in wanted)
        for n, row in enumerate(_rows(conn, table, select)):
            for column, value in zip(wanted, row, strict=True):
                text = _text(value)
                if text is not None:
                    judge_cell(f"{label}#{table}.{column}[row {n + 1}]", column, text, facts)
    return facts


def plaintext_credentials(conn: Any, label: str, columns: dict[str, tuple[str, ...]],
                          facts: TableFacts) -> None:
    """Columns a product is known to keep credentials in as issued (its source says so:
    aiaudit.products): every non-empty value that is not a one-way hash is a literal
    credential, whatever its shape (Open WebUI's user keys, `sk-` + 32 hex, match no
    provider rule). The table is named with its row count even when it is empty."""
    seen = {f.digest for f in facts.findings}
    for table, cols in columns.items():
        present = set(_columns(conn, table))
        for col in (c for c in cols if c in present):
            n = 0
            for n, (value,) in enumerate(_rows(conn, table, _quote(col)), 1):
                text = _text(value)
                if text is None or HASHED.match(text.strip()):
                    continue
                finding = Finding("plaintext-credential-in-store",
                                  f"{label}#{table}.{col}[row {n}]", 0,
                                  f"{col}={mask(text.strip())} (kept in clear)",
                                  len(text.encode()),
                                  hashlib.sha256(text.encode()).hexdigest()[:12])
                if finding.digest not in seen:
                    facts.findings.append(finding)
                    seen.add(finding.digest)
            facts.tables.append(f"{table}.{col} ({n} row(s); the column keeps credentials "
                                "in clear)")
