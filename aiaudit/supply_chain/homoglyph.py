"""Look-alike hosts: a URL whose host imitates another with letters of another script
(`api.оpenai.com` with a Cyrillic о) or an IDN spelled in punycode (`xn--gthub-n4a.com`).
A skill that sends a request there while its text names the real service hands the request,
and whatever key it carries, to someone else. Only non-ASCII text and `xn--` labels are read.
"""

from __future__ import annotations

import re
import unicodedata

from aiaudit.supply_chain.findings import Finding, excerpt
from aiaudit.supply_chain.textctx import TextFile

# Letters of Cyrillic, Greek and Armenian that render like Latin ones (Unicode confusables).
_CONFUSABLE = str.maketrans({
    "а": "a", "в": "b", "е": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
    "т": "t", "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s", "ԁ": "d", "ɡ": "g", "һ": "h",
    "ӏ": "l", "ԛ": "q", "ԝ": "w", "ү": "y", "ɑ": "a", "ο": "o", "α": "a", "ν": "v", "τ": "t",
    "ρ": "p", "ι": "i", "κ": "k", "ε": "e", "υ": "u", "χ": "x", "ѵ": "v", "օ": "o", "ս": "u",
    "ı": "i", "ℓ": "l"})
# Services whose domains are imitated to catch their API keys and logins.
POPULAR = frozenset({
    "github", "githubusercontent", "google", "googleapis", "gmail", "openai", "anthropic",
    "claude", "microsoft", "azure", "apple", "icloud", "amazon", "amazonaws", "paypal", "npmjs",
    "pypi", "pythonhosted", "huggingface", "slack", "discord", "telegram", "cloudflare",
    "dropbox", "stripe", "gitlab", "bitbucket", "docker", "binance", "coinbase", "metamask",
    "openrouter", "mistral", "groq", "notion", "figma", "linkedin", "facebook", "twitter",
    "x", "outlook", "office", "live", "yahoo"})
_OTHER_SCRIPT = re.compile("[\u0370-\u03ff\u0400-\u052f\u0530-\u058f]")
_URL = re.compile(r"https?://([^\s/'\"<>`)\]}:?#@]+)")


def skeleton(label: str) -> str:
    """What a label looks like in Latin letters (accents dropped, confusables mapped)."""
    text = unicodedata.normalize("NFKD", label.lower().translate(_CONFUSABLE))
    return "".join(c for c in text if not unicodedata.combining(c)).translate(_CONFUSABLE)


def _decoded(label: str) -> str:
    if label.lower().startswith("xn--"):
        try:
            return label[4:].encode("ascii").decode("punycode")
        except (UnicodeError, ValueError):
            return label
    return label


def imitates(host: str) -> str:
    """The host it imitates ("api.openai.com"), or "" when it imitates nothing."""
    labels = [_decoded(p) for p in host.rstrip(".").split(".")]
    if all(p.isascii() for p in labels):
        return ""
    shown = [skeleton(p) for p in labels]
    if not all(s.isascii() for s in shown):
        return ""  # a name in another script (пример.рф) imitates no Latin one
    # Latin letters beside Cyrillic, Greek or Armenian ones in one label (accented Latin,
    # as in münchen.de, is one script): a name no registrar's script rules would pair
    mixed = any(re.search(r"[a-z]", p, re.I) and _OTHER_SCRIPT.search(p) for p in labels)
    brand = shown[-2] if len(shown) >= 2 else shown[0]
    return ".".join(shown) if mixed or brand in POPULAR else ""


def hosts_in(tf: TextFile) -> list[tuple[str, int]]:
    """(host as written, line) of every non-ASCII or punycode host a file's URLs name."""
    if tf.text.isascii() and "xn--" not in tf.lowered:
        return []
    return [(m.group(1), tf.line_of(m.start())) for m in _URL.finditer(tf.text)
            if not m.group(1).isascii() or "xn--" in m.group(1).lower()]


def lookalike_findings(tf: TextFile) -> list[Finding]:
    """SUP-03: a URL on a host that imitates another (high: a request there goes elsewhere)."""
    out = []
    for host, line in hosts_in(tf):
        real = imitates(host)
        if real:
            out.append(Finding("SUP-03", "homoglyph-host", "high", tf.path, line,
                               excerpt(tf.line_text(line)), tf.context(line),
                               f"{host!r} imitates {real} with look-alike letters"))
    return out
