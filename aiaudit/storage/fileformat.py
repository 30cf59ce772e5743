"""Is a store file encrypted? The decision order of the storage reference notes.

1. SQLite magic and a b-tree page type at byte 100 (no reserve bytes): plaintext.
2. SQLite magic but no valid page header, or reserve bytes set, and random-looking pages:
   SQLCipher with a plaintext header.
3. No magic: known compression / archive signatures first (a compressed file is not an
   encrypted file), only then high entropy counts as encrypted.
WAL and rollback-journal copies carry page images: their page bytes are judged the same way.
"""

from __future__ import annotations

import math
import struct
from collections import Counter
from dataclasses import dataclass

SQLITE_MAGIC = b"SQLite format 3\x00"
BTREE_TYPES = {0x02, 0x05, 0x0A, 0x0D}
WAL_MAGICS = {0x377F0682, 0x377F0683}
JOURNAL_MAGIC = bytes.fromhex("d9d505f920a163d7")
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
SEVEN_ZIP_MAGIC = b"7z\xbc\xaf\x27\x1c"
SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\x1f\x8b", "gzip"),
    (0, ZSTD_MAGIC, "zstd"),
    (0, b"\xfd7zXZ\x00", "xz"),
    (0, b"PK\x03\x04", "zip"),
    (0, b"BZh", "bzip2"),
    (0, SEVEN_ZIP_MAGIC, "7z"),
    (0, b"\x04\x22\x4d\x18", "lz4"),
    (257, b"ustar", "tar"),
)
ENCRYPTED_ENTROPY = 7.9  # bits/byte; plain SQLite pages measure ~5-6, ciphertext 8.00
MIN_SAMPLE = 4096

def encrypted_container(head: bytes) -> str | None:
    """The encryption format a file is written in by its own header, whatever its size
    (None: not one): an age file (age-encryption.org/v1, age/internal/format), an OpenPGP
    message, armored or binary (RFC 9580 4.2: a symmetric-key or public-key encrypted
    session key packet first, tag 3 or 1, in the old or new packet format, which
    `gpg --symmetric` / `gpg -e` write). Its bytes cannot be read without a key the audit
    is not given."""
    if head.startswith((b"age-encryption.org/v1\n", b"-----BEGIN AGE ENCRYPTED FILE-----")):
        return "age-encrypted file"
    if head.startswith(b"-----BEGIN PGP MESSAGE-----"):
        return "OpenPGP message (armored)"
    if len(head) < 4:
        return None
    first = head[0]
    if first & 0xC0 == 0xC0:  # new format: tag in the low 6 bits
        tag, version = first & 0x3F, head[2] if head[1] < 192 else -1
    elif first & 0x80:  # old format: tag in bits 5..2
        tag = (first >> 2) & 0x0F
        version = head[1 + (1, 2, 4, 0)[first & 0x03]] if (first & 0x03) != 3 else -1
    else:
        return None
    if tag == 3 and version in (4, 5, 6):  # SKESK: gpg --symmetric
        return "OpenPGP symmetrically encrypted message"
    if tag == 1 and version in (3, 6):  # PKESK: gpg --encrypt
        return "OpenPGP public-key encrypted message"
    return None


@dataclass(frozen=True)
class FileVerdict:
    """What a file's bytes say: `encrypted` is True/False, None when there is nothing to judge."""

    encrypted: bool | None
    kind: str  # e.g. "plaintext SQLite", "gzip (compressed, not encrypted)", "SQLCipher"
    detail: str
    entropy: float

    def line(self) -> str:
        return f"{self.kind} ({self.detail}, entropy {self.entropy:.2f} bits/byte)"


def entropy(data: bytes) -> float:
    """Shannon entropy in bits per byte."""
    if not data:
        return 0.0
    total = len(data)
    return -sum(n / total * math.log2(n / total) for n in Counter(data).values())


def _signature(head: bytes) -> str | None:
    for offset, magic, name in SIGNATURES:
        if head[offset:offset + len(magic)] == magic:
            return name
    return None


def _judge_pages(pages: bytes, what: str) -> FileVerdict:
    """Page images without a header of their own: plaintext if structured, else encrypted."""
    e = entropy(pages)
    if len(pages) < MIN_SAMPLE // 4:
        return FileVerdict(None, f"{what} (too little data)", f"{len(pages)} page bytes", e)
    if e >= ENCRYPTED_ENTROPY:
        return FileVerdict(True, f"{what} with encrypted pages", "random-looking page bytes", e)
    return FileVerdict(False, f"{what} with plaintext pages", "structured page bytes", e)


def _sqlite_main(head: bytes, e: float) -> FileVerdict:
    page_type = head[100] if len(head) > 100 else -1
    reserve = head[20] if len(head) > 20 else 0
    if page_type in BTREE_TYPES and reserve == 0:
        return FileVerdict(False, "plaintext SQLite",
                           f"SQLite magic, b-tree page type 0x{page_type:02x} at byte 100", e)
    if e >= ENCRYPTED_ENTROPY:
        return FileVerdict(True, "SQLCipher with plaintext header",
                           f"SQLite magic but page type 0x{page_type & 0xff:02x} at byte 100 "
                           f"and {reserve} reserve bytes per page", e)
    return FileVerdict(False, "SQLite with reserve bytes (e.g. checksum VFS), plaintext pages",
                       f"{reserve} reserve bytes, page type 0x{page_type & 0xff:02x}", e)


def _wal(head: bytes) -> FileVerdict:
    page_size = struct.unpack(">I", head[8:12])[0] if len(head) >= 32 else 0
    if len(head) <= 32:
        return FileVerdict(None, "empty WAL", "no frames (checkpointed)", 0.0)
    pages = bytearray()
    offset = 32
    while page_size and offset + 24 + page_size <= len(head):
        pages += head[offset + 24: offset + 24 + page_size]
        offset += 24 + page_size
    if not pages:
        pages = bytearray(head[56:])
    return _judge_pages(bytes(pages), "SQLite WAL")


def classify(head: bytes) -> FileVerdict:
    """Judge a file from its first bytes (callers pass at least 64 KiB when the file has it)."""
    if not head:
        return FileVerdict(None, "empty file", "0 bytes", 0.0)
    e = entropy(head)
    if head.startswith(SQLITE_MAGIC):
        return _sqlite_main(head, e)
    if len(head) >= 4 and struct.unpack(">I", head[:4])[0] in WAL_MAGICS:
        return _wal(head)
    if head.startswith(JOURNAL_MAGIC):
        return _judge_pages(head[512:], "SQLite rollback journal")
    container = encrypted_container(head)
    if container:
        return FileVerdict(True, container, "its own header says so", e)
    name = _signature(head)
    if name:
        return FileVerdict(False, f"{name} (compressed, not encrypted)",
                           f"{name} signature at the start", e)
    if e >= ENCRYPTED_ENTROPY and len(head) >= MIN_SAMPLE:
        return FileVerdict(True, "encrypted (no known format)",
                           "no SQLite magic, no compression signature, random bytes", e)
    try:
        head[:4096].decode("utf-8")
        text = True
    except UnicodeDecodeError as exc:
        text = exc.start > 4000  # a multi-byte character cut at the sample's end
    if text:
        return FileVerdict(False, "plaintext", "readable text", e)
    if len(head) < MIN_SAMPLE:
        return FileVerdict(None, "unknown format", f"only {len(head)} bytes to judge", e)
    return FileVerdict(False, "unknown binary format, not random", "no magic, low entropy", e)
