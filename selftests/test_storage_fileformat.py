"""STO-01's decision order on real files made by the real libraries (sqlite3, SQLCipher,
gzip, zstd): compressed SQLite must never pass as encrypted, and a key proves SQLCipher."""

from __future__ import annotations

import gzip
import secrets
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
import zstandard
from sqlcipher3 import dbapi2 as sqlcipher

from aiaudit.storage.fileformat import classify, entropy
from aiaudit.storage.sqlitefacts import prove_sqlcipher

KEY = "a3" * 32


def _fill(conn) -> None:
    conn.execute("CREATE TABLE messages (id INTEGER PRIMARY KEY, content TEXT, timestamp REAL)")
    for i in range(400):
        conn.execute("INSERT INTO messages (content, timestamp) VALUES (?, ?)",
                     (f"message {i}: " + secrets.token_hex(12) + " the quick brown fox", i))
    conn.commit()


def _head(path: Path, n: int = 256 * 1024) -> bytes:
    return path.read_bytes()[:n]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("formats")
    out = {"plain": d / "plain.db", "cipher": d / "cipher.db", "header": d / "header.db"}
    conn = sqlite3.connect(out["plain"])
    _fill(conn)
    conn.close()
    conn = sqlcipher.connect(str(out["cipher"]))
    conn.execute(f"PRAGMA key = \"x'{KEY}'\"")
    _fill(conn)
    conn.close()
    salt = secrets.token_hex(16)
    conn = sqlcipher.connect(str(out["header"]))  # key and salt given: the header stays plain
    conn.execute(f"PRAGMA key = \"x'{KEY}{salt}'\"")
    conn.execute("PRAGMA cipher_plaintext_header_size = 32")
    _fill(conn)
    conn.close()
    out["header_key"] = Path(KEY + salt)
    out["gzip"] = d / "plain.db.gz"
    out["gzip"].write_bytes(gzip.compress(out["plain"].read_bytes()))
    out["zstd"] = d / "plain.db.zst"
    out["zstd"].write_bytes(zstandard.ZstdCompressor().compress(out["plain"].read_bytes()))
    if shutil.which("zstd"):
        out["zstd_cli"] = d / "plain-cli.db.zst"
        subprocess.run(["zstd", "-q", "-19", str(out["plain"]), "-o", str(out["zstd_cli"])],
                       check=True)
    for name, factory, key in (("wal_plain", sqlite3.connect, None),
                               ("wal_cipher", sqlcipher.connect, KEY)):
        db = d / f"{name}.db"
        writer = factory(str(db))
        if key:
            writer.execute(f"PRAGMA key = \"x'{key}'\"")
        writer.execute("PRAGMA journal_mode=WAL")
        writer.execute("PRAGMA wal_autocheckpoint=0")
        _fill(writer)
        out[name] = d / f"{name}.db-wal-copy"
        shutil.copyfile(f"{db}-wal", out[name])  # the WAL as it sits beside a live store
        writer.close()
    return out


def test_plain_sqlite_is_plaintext(files):
    verdict = classify(_head(files["plain"]))
    assert verdict.encrypted is False and verdict.kind == "plaintext SQLite"
    assert verdict.entropy < 7.0


def test_sqlcipher_default_is_encrypted_and_random(files):
    head = _head(files["cipher"])
    assert not head.startswith(b"SQLite format 3\x00")
    verdict = classify(head)
    assert verdict.encrypted is True and entropy(head) > 7.9


def test_sqlcipher_plaintext_header_is_told_apart_by_page_and_reserve_bytes(files):
    head = _head(files["header"])
    assert head.startswith(b"SQLite format 3\x00") and head[20] > 0  # reserve bytes set
    verdict = classify(head)
    assert verdict.encrypted is True and verdict.kind == "SQLCipher with plaintext header"


@pytest.mark.parametrize("name", ["gzip", "zstd", "zstd_cli"])
def test_compressed_plain_sqlite_never_passes_as_encrypted(files, name):
    if name not in files:
        pytest.skip("zstd CLI not installed")
    verdict = classify(_head(files[name]))
    assert verdict.encrypted is False
    assert "compressed, not encrypted" in verdict.kind
    assert verdict.entropy > 7.0  # high entropy alone would have fooled a naive check


def test_wal_pages_are_judged_like_the_store(files):
    assert classify(_head(files["wal_plain"])).encrypted is False
    assert classify(_head(files["wal_cipher"])).encrypted is True


def test_jsonl_history_is_plaintext(tmp_path):
    path = tmp_path / "messages.jsonl"
    path.write_text("".join(f'{{"role":"user","content":"hello {i}"}}\n' for i in range(300)))
    assert classify(_head(path)).encrypted is False


def test_key_proves_sqlcipher(files):
    proof = prove_sqlcipher(files["cipher"], KEY)
    assert proof.opened and proof.integrity == "ok"
    assert proof.cipher_version and proof.cipher_version.startswith("4.")


def test_key_proves_sqlcipher_with_plaintext_header(files):
    proof = prove_sqlcipher(files["header"], files["header_key"].name)
    assert proof.opened and proof.integrity == "ok"


def test_wrong_key_proves_nothing(files):
    proof = prove_sqlcipher(files["cipher"], "b4" * 32)
    assert not proof.opened and "does not open" in proof.detail
    assert not prove_sqlcipher(files["plain"], KEY).opened
