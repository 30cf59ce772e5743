"""STO-01: every conversation store and its copies are encrypted at rest."""

import pytest

from aiaudit.status import could_not_check
from aiaudit.storage.encryption import assess


@pytest.mark.control("STO-01")
@pytest.mark.resources(store="storage_at_rest")
def test_store_and_copies_are_encrypted_at_rest(store, audit, evidence):
    facts = assess(audit, store)
    evidence.add("store", f"{store.app} {store.kind} {store.path} (found by {store.found_by})")
    for i, f in enumerate(facts.files[:12]):
        evidence.add(f"file {i + 1}", f.line())
    if facts.data_dir_from:
        evidence.add("data dir", facts.data_dir_from)
    if facts.server_setting is not None:
        evidence.add("server encryption at rest", facts.server_setting)
    if facts.proof is not None:
        evidence.add("SQLCipher proof", f"{facts.proof.detail}; cipher_integrity_check: "
                     f"{facts.proof.integrity}; cipher_version {facts.proof.cipher_version}")
    evidence.read(files=len(facts.judged), bytes=facts.bytes_read)
    evidence.unreadable(facts.unread)
    plaintext = facts.plaintext
    assert not plaintext, (
        f"{len(plaintext)} of {len(facts.files)} file(s) readable at rest: "
        + "; ".join(f"{f.path}: {f.verdict.kind}" for f in plaintext[:4])
    )
    if facts.unread:
        could_not_check("; ".join(facts.unread[:3]))
    if not facts.judged:
        could_not_check(f"no file of {store.path} could be judged (all empty)")
    if facts.needs_proof and facts.proof is not None and not facts.proof.opened:
        could_not_check(f"{store.path} looks encrypted but {facts.key_source} does not open "
                        f"it (wrong key?): {facts.proof.detail}")
    if facts.needs_proof and facts.proof is None:
        could_not_check(f"{store.path} looks encrypted by its bytes, but without its key that "
                        "cannot be told from a damaged or foreign file: give its key in a "
                        "[[storage.keys]] entry (or [storage] key_file/key_env) so the store "
                        "is opened to prove it")
