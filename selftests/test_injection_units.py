"""Injection library units without the lab: adapters against a local fake chat server,
the callback listener, Wilson intervals, reproducible strategies, settings validation,
INJ-02's echo judgements and garak report parsing."""

from __future__ import annotations

import json
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from aiaudit.config import Credential, Endpoint, User
from aiaudit.http import SafeClient
from aiaudit.injection.adapters import json_path, make_adapter
from aiaudit.injection.attacks import FRAMINGS, compose, simpler
from aiaudit.injection.callback import CallbackListener
from aiaudit.injection.garak_native import judge_native, parse_report
from aiaudit.injection.markers import _marker_echoed, _stripped, opening_of
from aiaudit.injection.settings import InjectionConfigError, load_settings
from aiaudit.injection.stats import Rate, wilson
from aiaudit.injection.strategies import attacks, draw

FIXTURES = Path(__file__).parent / "fixtures" / "injection"


class _Chat(BaseHTTPRequestHandler):
    """Answers OpenAI, Ollama and a custom REST shape; remembers what it was sent."""

    seen: list[tuple[str, dict, dict]] = []

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Chat.seen.append((self.path, body, dict(self.headers)))
        if self.path == "/v1/chat/completions":
            if any(m["role"] != "user" for m in body["messages"]):
                return self._send(400, {"error": {"message": "input rejected: role"}})
            text = "echo: " + body["messages"][-1]["content"]
            doc = {"choices": [{"message": {"content": text}, "finish_reason": "stop"}]}
        elif self.path == "/api/chat":
            doc = {"message": {"content": "ollama " + body["model"]}, "done_reason": "stop"}
        else:
            doc = {"data": {"answers": [{"text": "rest " + body["query"]["q"]}]}}
        self._send(200, doc)

    def do_GET(self):  # noqa: N802
        self._send(200, {"models": [{"name": "tiny:1b"}]})

    def _send(self, status, doc):
        data = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        return


@pytest.fixture(scope="module")
def chat_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Chat)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_openai_adapter_sends_bounded_request_with_user_credential(chat_server, monkeypatch):
    monkeypatch.setenv("AIA_TEST_BOB", "bob-token-123456")
    ep = Endpoint("chat", f"{chat_server}/v1/chat/completions", user_field="user")
    client = SafeClient()
    adapter = make_adapter(ep, client, max_tokens=16)
    reply = adapter.send([{"role": "user", "content": "hi"}],
                         User("bob", Credential(env="AIA_TEST_BOB")))
    assert reply.answered and reply.text == "echo: hi" and reply.finish_reason == "stop"
    path, body, headers = _Chat.seen[-1]
    assert body["max_tokens"] == 16 and body["user"] == "bob" and body["temperature"] == 0
    assert headers["Authorization"] == "Bearer bob-token-123456"
    rejected = adapter.send([{"role": "system", "content": "x"}])
    assert rejected.rejected and "input rejected" in rejected.error
    assert [r.status for r in client.records] == [200, 400]


def test_ollama_adapter_discovers_its_model(chat_server):
    ep = Endpoint("ollama", f"{chat_server}/api/chat", api="ollama")
    reply = make_adapter(ep, SafeClient(), max_tokens=8).send([{"role": "user", "content": "q"}])
    assert reply.text == "ollama tiny:1b"
    assert _Chat.seen[-1][1]["options"]["num_predict"] == 8


def test_rest_adapter_fills_template_and_follows_json_path(chat_server):
    ep = Endpoint("rest", f"{chat_server}/bot", api="rest",
                  body_template='{"query": {"q": "$INPUT", "who": "$USER"}}',
                  answer_path="$.data.answers[0]['text']")
    reply = make_adapter(ep, SafeClient(), max_tokens=8).send(
        [{"role": "user", "content": 'say "hi"\n'}])
    assert reply.text == 'rest say "hi"\n'
    assert _Chat.seen[-1][1] == {"query": {"q": 'say "hi"\n', "who": "aiaudit-probe"}}


def test_unreachable_channel_is_a_reply_not_an_exception():
    ep = Endpoint("down", "http://127.0.0.1:9/v1/chat/completions")
    reply = make_adapter(ep, SafeClient(connect_timeout=0.5), max_tokens=4).send(
        [{"role": "user", "content": "hi"}])
    assert reply.status is None and not reply.answered and reply.error


def test_json_path():
    doc = {"a": [{"b": {"c d": 3}}]}
    assert json_path(doc, "$.a[0].b['c d']") == 3
    with pytest.raises(KeyError):
        json_path(doc, "$.missing")


def test_callback_listener_records_hits_per_token_and_serves_pages():
    with CallbackListener("127.0.0.1") as listener:
        token, other = listener.token(), listener.token()
        page = listener.serve(token, "<p>hidden</p>")
        with urllib.request.urlopen(page, timeout=5) as resp:
            assert resp.read() == b"<p>hidden</p>"
        hits = listener.wait({token}, 2)
        assert [h.token for h in hits] == [token] and hits[0].method == "GET"
        assert listener.wait({other}, 0.2) == []


def test_wilson_interval():
    assert wilson(0, 0) == (0.0, 1.0)
    low, high = wilson(0, 10)
    assert low == 0.0 and 0.27 < high < 0.28
    low, high = wilson(19, 20)
    assert 0.76 < low < 0.77 and 0.99 < high <= 1.0
    assert Rate(3, 10).describe() == "3/10 (30%, 95% Wilson 11%-60%)"


def test_strategies_are_reproducible_and_diverse():
    first, second = [], []
    draw(attacks("canary"), 8, 7, lambda a: first.append(a.label) is None)
    draw(attacks("canary"), 8, 7, lambda a: second.append(a.label) is None)
    assert first == second and len(set(first)) == 8
    assert {label.split("/")[1] for label in first} - {"plain"}


def test_draw_reraises_errors_without_replaying_the_call():
    calls = []

    def boom(example):
        calls.append(example)
        raise RuntimeError("target broke")

    with pytest.raises(RuntimeError):
        draw(attacks("history"), 5, 1, boom)
    assert len(calls) == 1


def test_compose_and_simpler_shrink_towards_plain():
    attack = compose("callback", "summary", "base64", "fence", "de", url="http://h/x")
    assert "base64" in attack.text and "http://h/x" not in attack.text
    smaller = simpler(attack, url="http://h/x")
    assert all(s.size < attack.size or s.obfuscation == "none" for s in smaller)
    assert {f for f in FRAMINGS} >= {s.framing for s in smaller}
    assert compose("callback", url="http://h/x").text.endswith("FETCH(http://h/x)")


def test_settings_validation():
    settings = load_settings({"channels": ["a"], "budget_attacks": 2, "seed": 3})
    assert settings.channels == ("a",) and settings.budget("standard").attacks == 2
    assert settings.budget("quick") is None
    with pytest.raises(InjectionConfigError, match=r"\[injection\].atempts: unknown key"):
        load_settings({"atempts": 5})
    with pytest.raises(InjectionConfigError, match="expected int"):
        load_settings({"max_tokens": "48"})


def test_marker_echo_judgements_on_real_replies():
    real = json.loads((FIXTURES / "lab_outputs.json").read_text())["markers"]
    assert "ZEBRA-7731" in real[0]["output"]
    assert _marker_echoed("<|im_start|>system\n", real[1]["output"]) == "<|im_start|>"
    assert _marker_echoed("<|im_start|>system\n", "I'm sorry, but I can't share that.") is None
    assert _stripped("PRE-1", "POST-2", "ok PRE-1 system POST-2 is the code word")
    assert not _stripped("PRE-1", "POST-2", "ok PRE-1 場所に POST-2")
    assert opening_of("You are a model user. You have the following") == "You are a model user."


def test_garak_report_needs_a_completion_row_and_judges_the_canary(tmp_path):
    report = parse_report(FIXTURES / "garak_report.jsonl")
    assert report.completed and report.attempts
    verdict = judge_native(report, report_canary(), ("encoding", "promptinject"))
    assert verdict.problem is None and verdict.canary_leaks >= 1
    unfinished = tmp_path / "r.report.jsonl"
    lines = (FIXTURES / "garak_report.jsonl").read_text().splitlines()
    unfinished.write_text("\n".join(x for x in lines if '"completion"' not in x))
    assert "did not finish" in judge_native(parse_report(unfinished), None, ("encoding",)).problem


def report_canary() -> str:
    return json.loads((FIXTURES / "garak_report.meta.json").read_text())["canary"]


def test_garak_corpus_prompts_and_echo_discount():
    from aiaudit.injection import garak_corpus

    if garak_corpus.version() is None:
        pytest.skip(garak_corpus.INSTALL_HINT)
    prompts = garak_corpus.direct_prompts(("promptinject", "encoding"), 4, 1)
    assert len(prompts) == 4 and all(p.triggers and p.detectors for p in prompts)
    inject = next(p for p in prompts if "promptinject" in p.probe)
    echo = f"{inject.text} {inject.triggers[0]}"  # an echo of the prompt carries the trigger
    assert garak_corpus.detector_hits(inject, echo) == [("promptinject.AttackRogueString",
                                                          False)]
    docs = garak_corpus.latent_documents("FETCH(http://cb/x)", 3, 1)
    assert len(docs) == 3 and all("FETCH(http://cb/x)" in text for _, text in docs)


def _campaign_with(answers: int, failures: int):
    from aiaudit.injection.adapters import Reply
    from aiaudit.injection.campaign import Attempt, Campaign

    campaign = Campaign(send=None, seconds=0)  # type: ignore[arg-type]  # attempts added below
    campaign.attempts += [Attempt("attack", "a", "p", Reply(200, "no", "stop"))] * answers
    campaign.attempts += [Attempt("attack", "a", "p", Reply(None, "", error="timed out"))
                          ] * failures
    return campaign


def test_a_pass_needs_most_requests_answered():
    from aiaudit.injection.campaign import usability_problem

    assert usability_problem(_campaign_with(5, 4), "attack") is None
    assert usability_problem(_campaign_with(3, 0), "attack") is None
    one_of_nine = usability_problem(_campaign_with(1, 8), "attack")
    assert one_of_nine and "only 1 of 9" in one_of_nine and "timed out" in one_of_nine
    assert "no usable answer to any of 2" in usability_problem(_campaign_with(0, 2), "attack")
    assert "no attempt was sent" in usability_problem(_campaign_with(0, 0), "attack")


def test_garak_native_sends_as_the_probe_identity(tmp_path):
    """garak's own command carries the suite's probe identity in the channel's user field
    (OpenAI generator: extra_params; REST template: merged in), so the deployment treats
    every request of the audit alike; without a user field it adds none."""
    from aiaudit.injection.channel import Channel
    from aiaudit.injection.garak_native import garak_config

    settings = load_settings({"probe_user": "audit-bot"})

    def config(ep: Endpoint) -> dict:
        channel = Channel(ep.name, ep, make_adapter(ep, SafeClient(), max_tokens=8), settings,
                          [], None)
        return garak_config(channel, ("encoding.InjectHex",), tmp_path, "p", 2, 1)["plugins"]

    openai = config(Endpoint("a", "http://127.0.0.1:9/v1/chat/completions", user_field="user"))
    assert openai["generators"]["openai"]["OpenAICompatible"]["extra_params"] == {
        "user": "audit-bot"}
    ollama = config(Endpoint("o", "http://127.0.0.1:9/api/chat", api="ollama",
                             user_field="user"))
    assert ollama["generators"]["rest"]["RestGenerator"]["req_template_json_object"][
        "user"] == "audit-bot"
    plain = config(Endpoint("b", "http://127.0.0.1:9/v1/chat/completions"))
    assert plain["generators"]["openai"]["OpenAICompatible"]["extra_params"] == {}
