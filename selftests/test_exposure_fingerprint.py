"""Fingerprints against answers recorded from the real servers (see
selftests/record_exposure_fixtures.py), including an Ollama impostor."""

import json
from pathlib import Path

import pytest

from aiaudit.exposure import probes
from aiaudit.exposure.fingerprint import Answer, Score, identify, json_values, proxy_of
from aiaudit.http import denied_reason
from aiaudit.services import ai_services, load_services

ANSWERS = Path(__file__).parent / "fixtures" / "exposure" / "answers"


def recorded(name: str) -> dict[str, Answer]:
    doc = json.loads((ANSWERS / f"{name}.json").read_text())
    return {path: Answer.from_dict(raw) for path, raw in doc["answers"].items()}


@pytest.mark.parametrize(("fixture", "service", "version"), [
    ("llama-cpp-python-open", "llama-cpp-python server", "0.3.36"),
    ("llama-cpp-python-key", "llama-cpp-python server", "0.3.36"),
    ("chroma", "Chroma", "1.0.0"),
    ("jupyter-server", "Jupyter", "2.21.1"),
    ("lab-agent", "OpenAI-compatible API", None),
])
def test_real_servers_are_named(fixture, service, version):
    ident = identify(recorded(fixture))
    assert ident.service == service, ident
    assert ident.version == version
    assert len(ident.signals) >= 2 and ident.confidence > 0


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
            "trailing slash", "HEAD", "OPTIONS"} == labels


def test_json_paths():
    doc = {"data": [{"id": "a", "x": {"y": 1}}, {"id": "b"}], "nanosecond heartbeat": 5}
    assert json_values(doc, "data[].id") == ["a", "b"]
    assert json_values(doc, "data[].x.y") == [1]
    assert json_values(doc, "nanosecond heartbeat") == [5]
    assert json_values("1.0.0", "") == ["1.0.0"]
