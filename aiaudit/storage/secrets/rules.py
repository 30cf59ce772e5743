"""The secret rule set: one candidate pattern per rule for the multi-pattern engine, and a
precise Python pattern plus checks that confirm a candidate.

Why two patterns: Hyperscan finds every candidate in one pass over the bytes (hundreds of
MB/s), but reports only where a match ends. A candidate pattern has a fixed-length tail so
each occurrence ends exactly once; the confirming pattern then runs only on the few bytes
around each candidate, and extracts the value (group `v`).
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

Check = Callable[[bytes], bool]
PLACEHOLDER = re.compile(
    rb"(?i)(?:x{6,}|\*{4,}|\.{3}|<[^>]*>|\$\{|\{\{|%\(|0{12,}|1234567890|abcdefghijk|"
    # words only as words: a random token may contain "FAKe" by chance (seen in the bench)
    rb"(?:^|[^a-z0-9])(?:example|sample|dummy|placeholder|your|changeme|redacted|fake|"
    rb"test[_-]?key)(?:$|[^a-z0-9]))"
)


@dataclass(frozen=True)
class Rule:
    name: str
    candidate: bytes  # Hyperscan pattern; its end marks the candidate
    confirm: bytes  # Python pattern with a group `v` for the value
    back: int  # how far before the candidate's end the confirming match may start
    ahead: int = 512  # how far after it the value may run on
    check: Check | None = None
    left_boundary: bool = True  # the value must not continue a longer word to its left


def shannon(data: bytes) -> float:
    """Entropy in bits per character (random base64 ~6, hex 4, English words ~3.5-4)."""
    if not data:
        return 0.0
    n = len(data)
    return -sum(c / n * math.log2(c / n) for c in Counter(data).values())


def _not_placeholder(value: bytes) -> bool:
    return not PLACEHOLDER.search(value) and len(set(value)) > 8


def _aws_key(value: bytes) -> bool:
    # AWS documents AKIAIOSFODNN7EXAMPLE; real ids are base32 after the prefix.
    return _not_placeholder(value) and not value.endswith(b"EXAMPLE")


def _jwt(value: bytes) -> bool:
    head = value.split(b".", 1)[0]
    try:
        decoded = json.loads(base64.urlsafe_b64decode(head + b"=" * (-len(head) % 4)))
    except (ValueError, TypeError):
        return False
    return isinstance(decoded, dict) and ("alg" in decoded or "typ" in decoded)


def _high_entropy(value: bytes) -> bool:
    """The careful generic rule: long, mixed, random-looking, not a placeholder or a path."""
    if len(value) < 16 or not _not_placeholder(value):
        return False
    if value.startswith((b"/", b"http", b"file:", b"vault:", b"op://", b"arn:", b"env:",
                         b"secretref", b"sm://", b"projects/")):
        return False  # a reference to a secret, not a secret
    classes = sum(bool(re.search(p, value)) for p in (rb"[a-z]", rb"[A-Z]", rb"[0-9]"))
    if classes < 2:
        return False
    if re.fullmatch(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", value):
        return False  # UUIDs identify, they do not authenticate
    threshold = 3.0 if re.fullmatch(rb"[0-9a-f]+", value) else 3.5
    return shannon(value) >= threshold


def _pem(value: bytes) -> bool:
    body = re.sub(rb"-----[A-Z ]+-----|\\[nr]|\s", b"", value)
    return len(body) >= 64 and _not_placeholder(body[:200])


KEYWORD = (rb"(?:api[_-]?key|apikey|secret[_-]?key|client[_-]?secret|secret|access[_-]?token|"
           rb"auth[_-]?token|refresh[_-]?token|bearer[_-]?token|token|password|passwd|"
           rb"private[_-]?key|access[_-]?key)")
ASSIGN = rb"\\?[\"']?\s{0,3}[:=]{1,2}\s{0,3}\\?[\"']?"  # quotes may be JSON-escaped
VALUE = rb"[A-Za-z0-9+/_.~=\-]"

RULES: tuple[Rule, ...] = (
    Rule("anthropic-api-key", rb"sk-ant-(?:api|admin|oat)\d\d-[A-Za-z0-9_\-]{32}",
         rb"(?P<v>sk-ant-(?:api|admin|oat)\d\d-[A-Za-z0-9_\-]{32,200})", 50,
         check=_not_placeholder),
    Rule("openai-api-key", rb"sk-(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{32}",
         rb"(?P<v>sk-(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{32,250})", 50,
         check=_not_placeholder),
    Rule("openai-api-key-legacy", rb"sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}",
         rb"(?P<v>sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20})", 60),
    Rule("github-pat-classic", rb"ghp_[A-Za-z0-9]{36}", rb"(?P<v>ghp_[A-Za-z0-9]{36,251})", 40,
         check=_not_placeholder),
    Rule("github-fine-grained-pat", rb"github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}",
         rb"(?P<v>github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59,200})", 100,
         check=_not_placeholder),
    Rule("github-app-token", rb"gh[su]_[A-Za-z0-9]{36}", rb"(?P<v>gh[su]_[A-Za-z0-9]{36,251})",
         40, check=_not_placeholder),
    Rule("github-oauth-token", rb"gh[or]_[A-Za-z0-9]{36}", rb"(?P<v>gh[or]_[A-Za-z0-9]{36,251})",
         40, check=_not_placeholder),
    Rule("aws-access-key-id", rb"(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}",
         rb"(?P<v>(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})(?![A-Za-z0-9])", 20, check=_aws_key),
    Rule("aws-secret-access-key",
         rb"(?i)aws.{0,24}secret.{0,24}[:=]\s{0,3}[\"']?[A-Za-z0-9/+]{40}",
         rb"(?i)aws.{0,24}secret.{0,24}[:=]\s{0,3}[\"']?(?P<v>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])",
         110, check=_high_entropy, left_boundary=False),
    Rule("google-api-key", rb"AIza[0-9A-Za-z_\-]{35}", rb"(?P<v>AIza[0-9A-Za-z_\-]{35})", 40,
         check=_not_placeholder),
    Rule("google-oauth-client-secret", rb"GOCSPX-[A-Za-z0-9_\-]{28}",
         rb"(?P<v>GOCSPX-[A-Za-z0-9_\-]{28})", 36, check=_not_placeholder),
    Rule("google-oauth-access-token", rb"ya29\.[0-9A-Za-z_\-]{40}",
         rb"(?P<v>ya29\.[0-9A-Za-z_\-]{40,400})", 46, check=_not_placeholder),
    Rule("slack-token", rb"xox[abposre]-[0-9]{6}", rb"(?P<v>xox[abposre]-[0-9A-Za-z\-]{20,250})",
         12, check=_not_placeholder),
    Rule("slack-app-token", rb"xapp-\d-[A-Z0-9]{9}", rb"(?P<v>xapp-\d-[A-Z0-9]+-\d+-[a-z0-9]+)",
         16, check=_not_placeholder),
    Rule("slack-webhook", rb"hooks\.slack\.com/services/T[A-Z0-9]{6}",
         rb"(?P<v>hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]{20,})", 40,
         check=_not_placeholder, left_boundary=False),
    Rule("stripe-secret-key", rb"(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{24}",
         rb"(?P<v>(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{24,247})", 40, check=_not_placeholder),
    Rule("stripe-webhook-secret", rb"whsec_[0-9A-Za-z]{32}", rb"(?P<v>whsec_[0-9A-Za-z]{32,})",
         40, check=_not_placeholder),
    Rule("huggingface-token", rb"hf_[A-Za-z0-9]{34}",
         rb"(?P<v>hf_[A-Za-z0-9]{34,40})(?![A-Za-z0-9])", 40, check=_not_placeholder),
    Rule("gitlab-token", rb"glpat-[0-9A-Za-z_\-]{20}", rb"(?P<v>glpat-[0-9A-Za-z_\-]{20,})", 30,
         check=_not_placeholder),
    Rule("npm-token", rb"npm_[A-Za-z0-9]{36}", rb"(?P<v>npm_[A-Za-z0-9]{36})(?![A-Za-z0-9])", 40,
         check=_not_placeholder),
    Rule("pypi-token", rb"pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{20}",
         rb"(?P<v>pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,})", 40),
    Rule("groq-api-key", rb"gsk_[A-Za-z0-9]{52}", rb"(?P<v>gsk_[A-Za-z0-9]{52})", 56,
         check=_not_placeholder),
    Rule("sendgrid-api-key", rb"SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}",
         rb"(?P<v>SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43})", 70, check=_not_placeholder),
    Rule("jwt", rb"eyJ[A-Za-z0-9_\-]{10}[A-Za-z0-9_\-]{0,400}\.eyJ[A-Za-z0-9_\-]{10}",
         rb"(?P<v>eyJ[A-Za-z0-9_\-]{10,}\.eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{16,})",
         420, ahead=4096, check=_jwt),
    Rule("private-key", rb"-----BEGIN [A-Z ]{0,24}PRIVATE KEY(?: BLOCK)?-----",
         rb"(?P<v>-----BEGIN [A-Z ]{0,24}PRIVATE KEY(?: BLOCK)?-----"
         rb"(?:\\[nr]|\s|[A-Za-z0-9+/=:,\-])+?(?:-----END [A-Z ]{0,24}PRIVATE KEY(?: BLOCK)?-----|"
         rb"(?=[\"'])))", 60, ahead=8192, check=_pem, left_boundary=False),
    Rule("url-credentials", rb"://[^/\s:@\"'<>]{1,64}:[^/\s@\"'<>]{6,64}@[A-Za-z0-9]",
         rb"://[^/\s:@\"'<>]{1,64}:(?P<v>[^/\s@\"'<>]{6,64})@[A-Za-z0-9]", 140,
         check=_high_entropy, left_boundary=False),
    Rule("bearer-token", rb"(?i)bearer\s{1,3}[A-Za-z0-9._~+/\-]{20}",
         rb"(?i)bearer\s{1,3}(?P<v>[A-Za-z0-9._~+/\-]{20,500}=*)", 30, check=_high_entropy,
         left_boundary=False),
    Rule("generic-high-entropy", rb"(?i)" + KEYWORD + ASSIGN + VALUE + rb"{16}",
         rb"(?i)" + KEYWORD + ASSIGN + rb"(?P<v>" + VALUE + rb"{16,200})", 60,
         check=_high_entropy, left_boundary=False),
)
# When two rules find the same value, the more specific (earlier) rule names it.
PRIORITY = {rule.name: i for i, rule in enumerate(RULES)}
