"""Fingerprints against answers recorded from the real servers (see
selftests/record_exposure_fixtures.py), including an Ollama impostor."""

import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from aiaudit.exposure import probes
from aiaudit.exposure.fingerprint import Answer, Score, identify, json_values, proxy_of, score
from aiaudit.http import denied_reason
from aiaudit.services import ai_services, load_services

ANSWERS = Path(__file__).parent / "fixtures" / "exposure" / "answers"


def recorded(name: str) -> dict[str, Answer]:
    doc = json.loads((ANSWERS / f"{name}.json").read_text())
    return {path: Answer.from_dict(raw) for path, raw in doc["answers"].items()}


# fixture -> (catalog entry, version it reports without credentials); every fixture was
# recorded from the real software (its "source" says which package and version)
REAL_SERVERS = {
    "llama-cpp-python-open": ("llama-cpp-python server", "0.3.36"),
    "llama-cpp-python-key": ("llama-cpp-python server", "0.3.36"),
    "llama-cpp-python-embedding": ("llama-cpp-python server", "0.3.36"),
    "chroma": ("Chroma", "1.0.0"),
    "jupyter-token": ("Jupyter", "2.21.1"),  # /api tells the version to everyone
    "jupyter-open": ("Jupyter", "2.21.1"),
    "lab-agent": ("OpenAI-compatible API", None),
    "litellm-open": ("LiteLLM proxy", None),  # no public route tells it
    "litellm-key": ("LiteLLM proxy", None),
    "mlflow": ("MLflow tracking server", "3.17.2"),
    "gradio-open": ("Gradio app", "6.31.0"),
    "gradio-auth": ("Gradio app", None),  # /config needs the login
    "ray-dashboard": ("Ray dashboard", "2.60.0"),
    "hermes-api": ("Hermes Agent API server", "0.19.0"),
    "openclaw-token": ("OpenClaw gateway", "2026.9.6"),
    "open-webui-auth": ("Open WebUI", "0.12.4"),  # its SPA answers 200 HTML on every path
    "open-webui-noauth": ("Open WebUI", "0.12.4"),
    # heavy installs, recorded with AIAUDIT_HEAVY=1 (bin/setup-heavy); replayed in CI
    "langflow-open": ("Langflow", "1.13.0"),
    "langflow-login": ("Langflow", "1.13.0"),  # /api/v1/version answers without a login
    "n8n-owner": ("n8n", None),  # versionCli only in the logged-in settings
}
# fixture -> the proxy whose own refusal every answer is (nothing behind it is named)
REAL_PROXIES = {
    "caddy-auth-proxy": "Caddy",
    "nginx-auth-proxy": "nginx",
    "haproxy-auth-proxy": "HAProxy",
    "apache-auth-proxy": "Apache httpd",
    "traefik-auth-proxy": "Traefik",
}


@pytest.mark.parametrize(("fixture", "service", "version"),
                         [(f, s, v) for f, (s, v) in REAL_SERVERS.items()])
def test_real_servers_are_named(fixture, service, version):
    ident = identify(recorded(fixture))
    assert ident.service == service, ident
    assert ident.version == version
    assert len(ident.signals) >= 2 and ident.confidence > 0


@pytest.mark.parametrize("fixture", list(REAL_SERVERS))
def test_real_servers_are_not_named_as_another(fixture):
    """Only its own entry clears the bar: no other catalog service would name it, so the
    ranking never decides between two identifications."""
    answers = recorded(fixture)
    own = REAL_SERVERS[fixture][0]
    others = [s.name for s in ai_services()
              if s.name != own and not s.generic and score(s, answers).identified]
    assert others == [], others


@pytest.mark.parametrize(("fixture", "proxy"), list(REAL_PROXIES.items()))
def test_real_auth_proxies_are_told_from_backends(fixture, proxy):
    answers = recorded(fixture)
    assert {a.status for a in answers.values()} == {401}
    assert {proxy_of(a).name for a in answers.values() if proxy_of(a)} == {proxy}
    assert all(proxy_of(a) for a in answers.values())
    assert identify(answers).service is None


def test_backend_refusals_are_not_taken_for_a_proxy():
    """A backend's own 401 (LiteLLM's master key, Hermes' API key, Gradio's login, the
    OpenClaw token) is never mistaken for a reverse proxy's."""
    for fixture in ("litellm-key", "hermes-api", "gradio-auth", "openclaw-token",
                    "llama-cpp-python-key"):
        refusals = [a for a in recorded(fixture).values() if a.status in (401, 403)]
        assert refusals and not any(proxy_of(a) for a in refusals), fixture


def test_every_confirmed_entry_has_a_recorded_real_answer():
    """`confirmed` means recorded: each confirmed entry is named on some fixture here (the
    generic entry by the lab agent), and each says which package and version it saw."""
    named = {s for s, _ in REAL_SERVERS.values()} | set(REAL_PROXIES.values())
    for svc in load_services():
        if svc.confirmed:
            assert svc.name in named, svc.name
            assert re.search(r"\d+\.\d+", svc.confirmed) or svc.generic, svc.confirmed
    for fixture in [*REAL_SERVERS, *REAL_PROXIES]:
        doc = json.loads((ANSWERS / f"{fixture}.json").read_text())
        assert doc["source"] and doc["answers"], fixture


@pytest.mark.parametrize("fixture", ["llama-cpp-python-open", "gradio-auth", "kobold"])
def test_evidence_says_whether_a_fingerprint_was_confirmed(fixture):
    """What a case names is marked: a confirmed entry with the package and version it was
    checked on, a documentation-only one (KoboldCpp: not installable here) as such."""
    from aiaudit.exposure.discovery import DOC_ONLY, NetService
    from selftests.hostile_server import KoboldCppScript

    if fixture == "kobold":
        raw = KoboldCppScript().routes
        answers = {path: Answer(int(r.split(b" ", 2)[1]), {}, r.partition(b"\r\n\r\n")[2])
                   for path, r in raw.items()}
    else:
        answers = recorded(fixture)
    svc = NetService("192.0.2.1", 1, "http", answers, identify(answers))
    assert svc.service is not None, svc.describe()
    if svc.service.confirmed:
        assert svc.summary()["fingerprint"] == f"confirmed on {svc.service.confirmed}"
        assert DOC_ONLY not in svc.describe()
    else:
        assert svc.service.name == "KoboldCpp"
        assert svc.summary()["fingerprint"] == DOC_ONLY and DOC_ONLY in svc.describe()


def replay(fixture: str, port: int):
    """Discovery's own rounds over a recorded fixture: (identification, paths asked for).
    Paths the recording lacks answer 404, as on the real server."""
    from aiaudit.exposure import discovery

    answers = recorded(fixture)
    sent: list[str] = []

    class Replay:
        def get(self, probe, url, headers=None, max_bytes=0):
            path = url.split(f":{port}", 1)[1]
            sent.append(path)
            raw = answers.get(path) or Answer(404, {}, b"")
            return SimpleNamespace(status=raw.status, headers=raw.headers, body=raw.body,
                                   tls=None, cause=None)

    prober = discovery._PortProber(Replay(), "192.0.2.1", port)
    return discovery.fingerprint(prober, prober.svc.answers, probes.DISCOVERY), sent


@pytest.mark.parametrize("fixture", list(REAL_SERVERS))
def test_real_servers_are_named_by_discovery_on_an_unusual_port(fixture):
    """Not only on all answers: discovery's rounds (first round, telling probes, hinted
    services) reach the signals, even where the port says nothing (`extra_ports`)."""
    ident, sent = replay(fixture, 1)
    assert ident.service == REAL_SERVERS[fixture][0], (ident, sent)


def test_litellm_health_is_held_back_from_a_litellm_port():
    """LiteLLM's GET /health calls every configured model upstream: discovery asks LiteLLM's
    own probes first and does not send it to a port that shows LiteLLM's signals."""
    from aiaudit.exposure import discovery

    for port in (4000, 1):
        ident, sent = replay("litellm-open", port)
        assert ident.service == "LiteLLM proxy"
        assert "/health/liveliness" in sent and "/health" not in sent, sent
        assert "/openapi.json" not in sent, sent
    assert {"/health", "/openapi.json"} <= discovery._costly_paths()
    # a port that is not LiteLLM still gets /health (Hermes' and llama.cpp's probe)
    ident, sent = replay("hermes-api", 1)
    assert ident.service == "Hermes Agent API server" and "/health" in sent


def test_generic_match_has_low_confidence():
    assert identify(recorded("lab-agent")).confidence <= 0.5


def test_ollama_impostor_is_not_named_ollama():
    """Caddy answering Ollama's banner, version and a canned model list: it resembles
    Ollama, but its Server header and the missing digests keep it below the bar."""
    answers = recorded("ollama-impostor-caddy")
    ident = identify(answers)
    assert ident.service is None
    assert ident.resembles == "Ollama"
    assert answers["/"].text.strip() == "Ollama is running"  # the banner alone is not enough


def test_real_ollama_shape_is_named_even_without_models():
    """A fresh Ollama (no models pulled, no Server header) still clears the bar."""
    answers = {
        "/": Answer(200, {"content-type": "text/plain; charset=utf-8"}, b"Ollama is running"),
        "/api/version": Answer(200, {"content-type": "application/json; charset=utf-8"},
                               b'{"version":"0.12.3"}'),
        "/api/tags": Answer(200, {"content-type": "application/json; charset=utf-8"},
                            b'{"models":[]}'),
    }
    ident = identify(answers)
    assert ident.service == "Ollama" and ident.version == "0.12.3"


def test_one_substring_is_never_enough():
    for svc in load_services():
        for sig in svc.signatures:
            assert not Score(svc, sig.weight, (sig,)).identified, (svc.name, sig.describe())


def test_auth_proxy_answers_are_told_from_the_backend():
    proxy = recorded("caddy-auth-proxy")
    assert {a.status for a in proxy.values()} == {401}
    assert proxy_of(proxy["/v1/models"]).name == "Caddy"
    assert "www-authenticate" in proxy["/v1/models"].headers
    backend = recorded("llama-cpp-python-key")
    assert backend["/v1/models"].status == 401 and proxy_of(backend["/v1/models"]) is None
    assert identify(proxy).service is None


def test_catalog_has_25_services_with_several_signals_each():
    services = [s for s in ai_services() if not s.generic]
    assert len(services) >= 25
    for svc in services:
        assert svc.ports and svc.probes and svc.read, svc.name
        assert len([s for s in svc.signatures if s.weight > 0]) >= 2, svc.name
    confirmed = [s.name for s in load_services() if s.confirmed]
    assert {"llama-cpp-python server", "Chroma", "Jupyter", "Caddy"} <= set(confirmed)


def test_declared_probes_never_include_management_or_denied_routes():
    for probe in probes.ALL_PROBES:
        for route in probe.routes:
            assert denied_reason(route.method, route.path) is None, (probe.name, route)
    for svc in ai_services():
        for entry in svc.management:
            method, _, path = entry.partition(" ")
            path = path.split(" ", 1)[0]
            if method in ("POST", "PUT", "DELETE") and path.startswith("/"):
                assert not any(p.allows(method, path) for p in probes.ALL_PROBES), entry


def test_bypass_variants_are_declared():
    for variant in probes.bypass_variants("/v1/models"):
        assert probes.UNAUTH_READ.allows(variant.method, variant.path)
    labels = {v.label for v in probes.bypass_variants("/v1/models")}
    assert {probes.CLIENT_ADDRESS_LABEL, "Host: localhost", "path case", "doubled slashes",
            "trailing slash", "HEAD", "OPTIONS", f"User-Agent: {probes.SDK_USER_AGENT}"} == labels


def test_json_paths():
    doc = {"data": [{"id": "a", "x": {"y": 1}}, {"id": "b"}], "nanosecond heartbeat": 5}
    assert json_values(doc, "data[].id") == ["a", "b"]
    assert json_values(doc, "data[].x.y") == [1]
    assert json_values(doc, "nanosecond heartbeat") == [5]
    assert json_values("1.0.0", "") == ["1.0.0"]


def test_refusal_shapes_and_data_that_is_not_one():
    """Walls that are not a 401 are refusals; data, and an envelope without auth words, are
    not (invented bodies in the shapes gateways send)."""
    js = {"content-type": "application/json"}
    wall = Answer(200, js, b'{"error":"Unauthorized","code":401}')
    assert wall.auth_error() == "Unauthorized" and "JSON body" in wall.refusal()
    assert Answer(200, js, b'{"detail":"Not authenticated"}').refusal()
    for body in (b'{"status":"ok"}', b'{"error":null,"models":[{"name":"m"}]}',
                 b'{"message":"forbidden words","data":[1]}', b'["Unauthorized"]'):
        assert not Answer(200, js, body).refusal(), body
    assert "redirect to a login" in Answer(302, {"location": "/oauth2/start?rd=/"}).refusal()
    assert Answer(303, {"location": "https://idp.example.invalid/realms/x/auth"}).refusal()
    assert not Answer(308, {"location": "//127.0.0.1:9/collect"}).refusal()
    assert not Answer(302, {"location": "/v1/models/"}).refusal()
    nginx = Answer(400, {"server": "nginx"}, b"<title>400 No required SSL certificate was "
                   b"sent</title>")
    assert "client certificate" in nginx.refusal()
    assert "client certificate" in Answer(None, problem="TLS error: tlsv13 alert certificate "
                                          "required").refusal()
    assert not Answer(None, problem="connection reset by peer").refusal()
    assert not Answer(400, {}, b"Bad Request").refusal()


def test_refusals_that_list_models():
    leak = Answer(401, {}, b'{"error":{"message":"bad key"},"available_models":["a",{"id":"b"}]}')
    assert leak.leaked_listing() == ["a", "b"]
    assert Answer(403, {}, b'{"detail":{"allowed_models":["x"]}}').leaked_listing() == ["x"]
    assert not Answer(401, {}, b'{"error":"unauthorized","models":[]}').leaked_listing()
    assert not Answer(200, {}, b'{"models":["m"]}').leaked_listing()  # data, judged elsewhere


def test_recorded_real_answers_refuse_only_by_status():
    """Over every answer recorded from the real servers (Open WebUI, LiteLLM, Gradio,
    MLflow, Jupyter, n8n, the proxies...): only a 401/403/407 is a refusal, no 2xx reads
    as an auth error and no refusal lists models, so the new wall shapes change nothing
    there."""
    seen = 0
    for path in sorted(ANSWERS.glob("*.json")):
        for route, raw in json.loads(path.read_text())["answers"].items():
            answer = Answer.from_dict(raw)
            seen += 1
            assert bool(answer.refusal()) == (answer.status in (401, 403, 407)), (
                path.name, route, answer.status, answer.refusal())
            assert not answer.leaked_listing(), (path.name, route)
    assert seen > 500, seen


def _recorded(name: str, path: str, server: str | None = None) -> Answer:
    """A real server's recorded answer (selftests/fixtures/exposure/answers), its Server
    header replaced where a proxy in front would put its own."""
    raw = json.loads((Path(__file__).parent / "fixtures/exposure/answers" / f"{name}.json")
                     .read_text())["answers"][path]
    headers = {k.lower(): v for k, v in raw["headers"].items()}
    if server:
        headers["server"] = server
    return Answer(raw["status"], headers, raw["body"].encode())


@pytest.mark.parametrize(("product", "recording", "path"), [
    ("llama-cpp-python server", "llama-cpp-python-key", "/v1/models"),
    ("LiteLLM proxy", "litellm-key", "/v1/models"),
    ("Hermes Agent API server", "hermes-api", "/v1/models"),
    ("OpenClaw gateway", "openclaw-token", "/v1/models"),
])
def test_a_products_own_refusal_is_told_from_a_proxys_wall(product, recording, path):
    """EXP-02 names a read refused in the product's own words (its key check, which its
    source runs before the body: services.toml key_before_body): the real product's 401 is
    its own with or without a proxy passing it on; the real nginx auth_basic 401 in front
    of it never is."""
    from aiaudit.exposure.checks import refused_in_own_words
    from aiaudit.services import by_name

    service = by_name(product)
    assert service is not None and service.key_before_body, product
    svc = SimpleNamespace(service=service)
    own = _recorded(recording, path)
    assert own.status == 401
    assert refused_in_own_words(svc, path, own)
    assert refused_in_own_words(svc, path, _recorded(recording, path, server="nginx/1.22.1"))
    assert not refused_in_own_words(svc, path, _recorded("nginx-auth-proxy", "/v1/models"))
    assert not refused_in_own_words(SimpleNamespace(service=None), path, own)


@pytest.mark.parametrize(("recording", "opened"), [
    ("open-webui-auth", ""), ("open-webui-noauth", "features.auth == False")])
def test_open_webui_config_tells_its_auth_state(recording, opened):
    """Open WebUI answers /api/config to everyone by design (its sign-in page reads it):
    with its login on that is no finding (was FAIL: the config counted as data handed
    out); WEBUI_AUTH=False says features.auth=false there, and then anyone is signed in
    as admin: open. On the real 0.12.4's recorded answers."""
    from aiaudit.exposure.checks import open_by_design
    from aiaudit.services import by_name

    raw = json.loads((Path(__file__).parent / "fixtures/exposure/answers" / f"{recording}.json")
                     .read_text())["answers"]
    answers = {p: _recorded(recording, p) for p in raw}
    assert identify(answers).service == "Open WebUI"
    service = by_name("Open WebUI")
    assert service is not None and "/api/config" not in service.read
    why = open_by_design(SimpleNamespace(service=service, answers=answers))
    assert (opened in why) if opened else why == "", why
    if opened:
        assert "admin@localhost" in why and why.startswith("GET /api/config -> 200")


def test_a_head_200_is_data_only_with_a_json_content_type():
    """HEAD has no body: its 2xx hands out data only when its Content-Type is the API's
    (JSON); the real Open WebUI 0.12.4 answers HEAD /api/models with its SPA's 200
    text/html while GET is 401 (was a HEAD bypass, EXP-02 FAIL)."""
    from aiaudit.exposure.checks import answered
    page = Answer(200, {"content-type": "text/html; charset=utf-8", "server": "uvicorn"}, b"")
    data = Answer(200, {"content-type": "application/json; charset=utf-8"}, b"")
    assert not answered(page, "HEAD") and answered(data, "HEAD")
    assert not answered(Answer(401, {"content-type": "application/json"}, b""), "HEAD")


def test_open_webui_signin_is_never_sent():
    """With WEBUI_AUTH=False, Open WebUI's signin creates the admin account when none
    exists (routers/auths.py signin -> signup_handler): never sent, like signup."""
    assert "Open WebUI" in (denied_reason("POST", "/api/v1/auths/signin") or "")
    assert denied_reason("POST", "/owui/api/v1/auths/signin")  # behind a path prefix too
