"""EXP-01..07 on a third set of held-out hostile and deceptive servers, in one run.

Every server is a real socket on loopback (selftests/hostile_third.py): four real Caddy
sites (Ollama under a path prefix; basic auth on the reads only, on everything, on GET
only), two real nginx servers (mutual TLS; auth_basic on the reads only) and the real
llama-cpp-python server with --api_key. The real suite audits them together in one
subprocess (`pytest tests_exposure --target=127.0.0.1`, profile standard, with SARIF and
JUnit output) and each case is held to the status written down, with its cause, before the
suite was first run on it.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from selftests import hostile_third
from selftests.hostile_more import tls_dir
from selftests.hostile_server import (
    HostileServer,
    audit_ports,
    free_port,
    listening,
    not_read_only,
    wait_for,
)

ROOT = Path(__file__).resolve().parent.parent
# [exposure] host_budget_seconds: real nginx closes the connection after its 400 (no
# keep-alive on errors), so each TLS probe is a handshake; 5 s ran out in 1 of 2 runs at a
# load of 10 on 2 cores
BUDGET = 8
NGINX = "/usr/sbin/nginx"
CONTROLS = ("EXP-02", "EXP-03", "EXP-06", "EXP-07")
E4 = ("ERROR",) * 4
# the head came straight from the server (EXP-03: not behind a proxy; EXP-06 judged on the
# headers it sent), but no body could be read whole
R4 = ("ERROR", "FAIL", "PASS", "ERROR")
GEN = "--profile full"
EMPTY = "POST /v1/chat/completions with an empty body (nothing to generate) -> "

# name -> ((EXP-02, EXP-03, EXP-06, EXP-07), pieces of the EXP-02 reason or evidence, all
# of which must be there)
EXPECTED: dict[str, tuple[tuple[str, str, str, str], tuple[str, ...]]] = {
    # auth on the reads, none on generation: an empty POST on the route reaches Ollama
    # (its 400 body error), but the service is not identified (every read refused), and an
    # unknown app may judge the body before a key: by hand or --profile full (was PASS)
    "reads-walled": (("MANUAL", "FAIL", "PASS", "MANUAL"), (EMPTY + "400", GEN)),
    # the real LiteLLM's answers with a master key: its empty POST is refused 401 (as the
    # real 1.108.7 answered: user_api_key_auth before the body): PASS
    "litellm-key": (("PASS", "FAIL", "PASS", "PASS"), (EMPTY + "401", "auth_error")),
    # a 401 on the generation route too: the route itself refuses
    "wall-everywhere": (("PASS", "FAIL", "PASS", "PASS"), (EMPTY + "401",)),
    # 200 {"error": "Unauthorized"} on every path: a refusal, not data (was FAIL "identity
    # unconfirmed")
    "json-200-wall": (("PASS", "FAIL", "PASS", "PASS"), ("auth error in a JSON body",)),
    # a 401 that lists the models: the list is handed out without credentials (was PASS)
    "leaky-401": (("FAIL", "FAIL", "PASS", "PASS"), ("acme-support-finetune-v2",)),
    # 302 to /oauth2/start for every path, never followed: a login wall (was MANUAL)
    "login-redirect": (("PASS", "FAIL", "PASS", "PASS"), ("redirect to a login",)),
    # the OpenAI SDK's User-Agent is let in: a bypass (was PASS)
    "ua-allowlist": (("FAIL", "FAIL", "PASS", "MANUAL"), ("User-Agent: OpenAI/Python",)),
    "head-only-auth": (("FAIL", "FAIL", "PASS", "FAIL"), ("answers without credentials",)),
    "get-only-auth": (("FAIL", "FAIL", "PASS", "MANUAL"), ("HEAD: HEAD /v1/models 401 -> 200",)),
    "http10-close": (("FAIL", "FAIL", "PASS", "FAIL"), ("answers without credentials",)),
    "chunk-ext-huge": (R4, ("response too large: a chunk-size line over 64 KiB",)),
    "trailer-key": (("FAIL", "FAIL", "PASS", "FAIL"), ("answers without credentials",)),
    "endless-trailer": (E4, ()),
    "gzip-twice": (R4, ("Content-Encoding",)),
    "ansi-json": (("FAIL", "FAIL", "PASS", "FAIL"), ("answers without credentials",)),
    "redis": (E4, ("invalid HTTP response",)),
    "postfix": (E4, ("invalid HTTP response",)),
    # its banner quoted in the cause, the token masked before the quote is cut
    "banner-key": (E4, ("invalid HTTP response: '220 relay.example.invalid ESMTP ready; "
                        "token sk-p",)),
    # by address (no SNI) every path is 421: nothing to judge, by hand
    "sni-vhost": (("MANUAL", "FAIL", "PASS", "MANUAL"),
                  ("421", "its TLS certificate is for ollama.internal")),
    # nginx's ssl_verify_client: 400 "No required SSL certificate was sent" on every path,
    # generation included: refused (was MANUAL); EXP-03: nginx refuses over TLS, but no
    # proxy credential is configured to confirm the API behind it
    "mtls": (("PASS", "ERROR", "PASS", "PASS"), ("client certificate",)),
    "caddy-prefix": (("MANUAL", "FAIL", "PASS", "MANUAL"), ("hands out no data",)),
    # Caddy's basicauth on the reads only (was PASS)
    "caddy-reads": (("MANUAL", "FAIL", "PASS", "MANUAL"), (EMPTY + "400", GEN)),
    "caddy-all": (("PASS", "FAIL", "PASS", "PASS"), (EMPTY + "401",)),
    "caddy-getonly": (("FAIL", "FAIL", "PASS", "MANUAL"), ("HEAD: HEAD /v1/models 401 -> 200",)),
    # real nginx 1.22 with ssl_verify_client on: its 400 "No required SSL certificate was
    # sent" on every path; over TLS, but no proxy credential configured (EXP-03 ERROR)
    "nginx-mtls": (("PASS", "ERROR", "PASS", "PASS"), ("client certificate",)),
    # real nginx, auth_basic on the reads only (was PASS)
    "nginx-reads": (("MANUAL", "FAIL", "PASS", "MANUAL"), (EMPTY + "400", GEN)),
    # the real llama-cpp-python server with --api_key: 401 on /v1/models, and its empty
    # POST on the generation route is refused by Depends(authenticate), solved before the
    # body: 401 {"detail":"Invalid API key"}, PASS; Starlette's CORS (allow_origins=["*"],
    # credentials) reflects the Origin on the preflight; no management API in the catalog
    "llama-key": (("PASS", "FAIL", "FAIL", "PASS"), (EMPTY + "401", "Invalid API key")),
}
# the time cause of a message that never ends depends on which clock fires first
ENDLESS = ("did not end within", "timed out after")


def _caddy_hash(password: str) -> str:
    import bcrypt
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()


@pytest.fixture(scope="module")
def third(tmp_path_factory):
    """Every server up at once, audited together once."""
    caddy = shutil.which("caddy")
    if caddy is None or not Path(NGINX).exists():
        pytest.skip("caddy or nginx is not installed (bin/setup installs them)")
    try:
        from aiaudit.lab.llm import model_path
        model = model_path()
    except Exception as exc:  # noqa: BLE001 - the lab model is bin/setup's too
        pytest.skip(f"no lab model for llama-cpp-python: {exc}")
    tmp = tmp_path_factory.mktemp("hostile-third")
    servers = {n: HostileServer(persona=p).start() for n, p in hostile_third.personas().items()}
    tls = tls_dir()
    where = Path(tls.name)
    servers["sni-vhost"] = HostileServer(tls_context=hostile_third.sni_context(where),
                                         persona=hostile_third.SniVhost()).start()
    servers["mtls"] = HostileServer(tls_context=hostile_third.mtls_context(where),
                                    persona=hostile_third.ClientCertWall()).start()
    backend = HostileServer(persona=hostile_third.OpenOllamaTls()).start()
    caddy_ports = {k: free_port() for k in hostile_third.CADDY_KEYS}
    password = secrets.token_urlsafe(12)  # made up at run time; never sent by the audit
    conf = hostile_third.caddy_conf(tmp / "caddy", caddy_ports, backend.port,
                                    _caddy_hash(password))
    proc_caddy = subprocess.Popen([caddy, "run", "--config", str(conf), "--adapter", "caddyfile"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  env={"HOME": str(tmp / "caddy"), "PATH": "/usr/bin:/bin"})
    nginx_ports = {k: free_port() for k in hostile_third.NGINX_KEYS}
    nconf = hostile_third.nginx_conf(tmp / "nginx", nginx_ports, backend.port,
                                     f"aiaudit:{_caddy_hash(password)}\n")
    proc_nginx = subprocess.Popen([NGINX, "-c", str(nconf), "-p", str(tmp / "nginx")],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    llama_port = free_port()
    api_key = secrets.token_urlsafe(16)  # made up at run time; never sent by the audit
    proc_llama = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
         "--port", str(llama_port), "--api_key", api_key, "--n_ctx", "256"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ports = {n: s.port for n, s in servers.items()}
    ports.update({f"caddy-{k}": v for k, v in caddy_ports.items()})
    ports.update({f"nginx-{k}": v for k, v in nginx_ports.items()})
    ports["llama-key"] = llama_port
    try:
        assert wait_for(lambda: listening(caddy_ports.values()), 15), "caddy did not start"
        assert wait_for(lambda: listening(nginx_ports.values()), 10), "nginx did not start"
        assert wait_for(lambda: listening([llama_port]), 60), "llama-cpp-python did not start"
        yield {**audit_ports(tmp, ports, BUDGET, ROOT), "servers": servers, "backend": backend}
    finally:
        for proc in (proc_caddy, proc_nginx, proc_llama):
            proc.terminate()
            proc.wait(10)
        for srv in [*servers.values(), backend]:
            srv.close()
        tls.cleanup()


@pytest.mark.parametrize("name", list(EXPECTED))
def test_exact_status_per_control(third, name):
    """EXP-02/03/06/07 per server, exactly; the EXP-02 case names its cause."""
    statuses, pieces = EXPECTED[name]
    got = {c: third["cases"].get((c, name), {}).get("status") for c in CONTROLS}
    exp02 = third["cases"].get(("EXP-02", name), {})
    assert got == dict(zip(CONTROLS, statuses, strict=True)), (
        name, got, exp02.get("reason"), exp02.get("evidence"))
    told = exp02["reason"] + json.dumps(exp02.get("evidence", {}))
    missing = [p for p in pieces if p not in told]
    assert not missing, (name, missing, exp02["reason"])
    if name == "endless-trailer":
        assert any(p in told for p in ENDLESS), exp02["reason"]
    for c in CONTROLS:
        assert "\n" not in third["cases"][(c, name)]["reason"]


def test_identity_unread_is_never_not_applicable(third):
    """No EXP-07 case is NOT_APPLICABLE here: every service either refuses, is named by
    its own signals, or its identity could not be read."""
    for (cid, name), case in third["cases"].items():
        if cid == "EXP-07" and name in EXPECTED:
            assert case["status"] != "NOT_APPLICABLE", (name, case["reason"])


def test_manual_on_generation_names_the_route_and_full_profile(third):
    """Reads refused, generation route reached: the reason names the route, what it
    answered, and how to settle it; EXP-07 says the management API is not shown either."""
    for name in ("reads-walled", "caddy-reads"):
        exp02 = third["cases"][("EXP-02", name)]["reason"]
        assert "refuses its reads, but its generation route is not shown to" in exp02, exp02
        assert "/v1/chat/completions" in exp02 and "--profile full" in exp02, exp02
        exp07 = third["cases"][("EXP-07", name)]["reason"]
        assert "not its generation route" in exp07, exp07


def test_reports_written_and_secrets_and_controls_never_raw(third):
    """Every report is written; the trailer key and the key in a refusal's model list
    appear in none of them, nor in the console or the history DB; ANSI, BEL and NUL never
    reach any output raw."""
    out = third["out"]
    assert third["proc"].returncode == 1, third["proc"].stderr[-2000:]
    blobs = {f.name: f.read_bytes() for f in out.iterdir() if f.is_file()}
    assert {"latest.html", "latest.json", "audit.sarif", "junit.xml"} <= set(blobs)
    blobs["stdout"] = third["proc"].stdout.encode()
    blobs["stderr"] = third["proc"].stderr.encode()
    secrets_ = (hostile_third.TRAILER_SECRET, hostile_third.LEAK_SECRET,
                hostile_third.BANNER_SECRET)
    for fname, data in blobs.items():
        for secret in secrets_:  # 12 characters: a mask keeps 4, a cut key kept 15
            assert secret[:12].encode() not in data, (fname, secret[:8])
        if fname.endswith(".sqlite"):  # the history DB is binary: its text cells below
            continue
        for raw in (b"\x00", b"\x1b", b"\x07"):
            assert raw not in data, (fname, raw)
    history = [f for f in out.iterdir() if f.name.endswith(".sqlite")]
    for db in history:
        import sqlite3
        con = sqlite3.connect(db)
        for (table,) in con.execute("select name from sqlite_master where type='table'"):
            for row in con.execute(f'select * from "{table}"'):
                for cell in row:
                    if isinstance(cell, str):
                        assert not re.search(r"[\x00\x07\x1b]", cell), (table, cell[:80])
                        assert not [x for x in secrets_ if x[:12] in cell], table
        con.close()
    html = blobs["latest.html"].decode()
    for port in third["ports"].values():
        assert f"127.0.0.1:{port}" in html


def test_only_reads_reach_the_servers_at_a_bounded_rate(third):
    """Only GET/HEAD/OPTIONS, on the audited ports; nothing sent to the redirect target;
    no POST reached Caddy's backend; per-server request count and rate bounded; the wall
    time is one host budget plus start-up."""
    requests = third["doc"]["requests"]
    assert not not_read_only(requests)
    audited = {f"127.0.0.1:{p}" for p in third["ports"].values()}
    assert {re.sub(r"^https?://([^/]+).*", r"\1", r["url"]) for r in requests} <= audited
    assert not [r for r in third["servers"]["login-redirect"].requests
                if r["path"].startswith("/oauth2/")]
    seen = [r for s in [*third["servers"].values(), third["backend"]] for r in s.requests]
    assert not not_read_only(seen), not_read_only(seen)
    per_port: dict[str, int] = {}
    for r in requests:
        port = re.sub(r"^https?://[^:]+:(\d+).*", r"\1", r["url"])
        per_port[port] = per_port.get(port, 0) + 1
    assert max(per_port.values()) <= 60, per_port
    for name, srv in third["servers"].items():
        times = sorted(r["at"] for r in srv.requests)
        worst = max((sum(1 for t in times[i:] if t - start < 2.0)
                     for i, start in enumerate(times)), default=0)
        assert worst <= 47, (name, worst)
    assert third["took"] <= BUDGET + 25, third["took"]


def test_full_profile_settles_the_generation_route(tmp_path):
    """Under --profile full the one-token POST decides what a GET could not: reads walled
    and generation open is FAIL (the completion ran), a wall on every route stays PASS
    (the POST is refused); standard on the same servers is MANUAL and PASS."""
    from aiaudit.config import load_config
    from aiaudit.context import AuditContext
    from aiaudit.exposure import checks
    from aiaudit.exposure.discovery import discover
    from aiaudit.target import parse_target

    with HostileServer(persona=hostile_third.WalledReadsOpenGeneration()) as gen_open, \
            HostileServer(persona=hostile_third.WallEverywhere()) as wall:
        cfg = tmp_path / "audit.toml"
        cfg.write_text(f"[exposure]\nextra_ports = [{gen_open.port}, {wall.port}]\n"
                       "host_budget_seconds = 5\n")
        ctx = AuditContext(parse_target("127.0.0.1"), load_config(str(cfg)))
        found = {s.port: s for s in discover(ctx.exposure_client, "127.0.0.1",
                                             [gen_open.port, wall.port], catalog=False)}
        got = {port: (checks.auth_state(ctx.exposure_client, svc, full_profile=False),
                      checks.auth_state(ctx.exposure_client, svc, full_profile=True))
               for port, svc in found.items()}
    standard, full = got[gen_open.port]
    # the persona answers any POST there with a completion: data without credentials
    assert (standard.state, standard.generation) == ("protected", "open")
    assert standard.generation_line.startswith(EMPTY + "200")
    assert full.completion.startswith("POST /v1/chat/completions (max_tokens=1) -> 200")
    standard, full = got[wall.port]
    assert (standard.generation, full.generation) == ("refused", "refused")
    assert full.completion.startswith("POST /v1/chat/completions (max_tokens=1) -> 401")
    posts = [r for r in gen_open.requests + wall.requests if r["method"] == "POST"]
    # per server: the standard profile's empty POST, and the full profile's completion
    # (which then stands for the route: no empty POST besides it)
    assert len(posts) == 4, posts
    assert len([r for r in posts if not_read_only([r])]) == 2, posts
    assert {r["path"] for r in posts} == {"/v1/chat/completions"}
