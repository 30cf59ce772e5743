"""aiaudit/products/openclaw.py on files OpenClaw 2026.9.6 wrote itself (recorded by
selftests/record_openclaw_fixtures.py from states built with its own CLI)."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiaudit.exposure.hostside import openclaw_intent
from aiaudit.products import openclaw
from aiaudit.storage.configtables import TableFacts, document_secrets
from aiaudit.storage.permissions import Entry, judge
from aiaudit.storage.retention import openclaw_knob
from aiaudit.supply_chain.discovery import ConfigFile, _openclaw_workspaces
from aiaudit.supply_chain.sandbox import openclaw_runtime

FIXTURES = Path(__file__).parent / "fixtures" / "openclaw"


def config(state: str, name: str = "openclaw.json") -> openclaw.Config:
    path = FIXTURES / state / name
    return openclaw.parse_config(str(path), path.read_text())


def test_every_default_names_its_source():
    text = (Path(openclaw.__file__).parent.parent / "data" / "openclaw.toml").read_text()
    for section in ("paths", "gateway", "session_maintenance", "sandbox", "history", "files",
                    "auth_profiles"):
        head = text.split(f"[{section}]", 1)[1].split("\n[", 1)[0]
        assert "src/" in head or "docs/" in head, f"[{section}] cites no source"
    assert openclaw.service_name() == "OpenClaw gateway"


def test_vulnerable_config_as_openclaw_resolves_it():
    cfg = config("vulnerable")
    gw = openclaw.gateway(cfg)
    assert (gw.bind_mode, gw.address, gw.auth_mode, gw.credential) == (
        "lan", "0.0.0.0", "none", "none")
    m = openclaw.maintenance(cfg)  # onboarding writes no session.maintenance: defaults
    assert m.enforced and m.prune_after_days == 30 and m.reset_archive_days is None
    assert set(m.unset) == {"mode", "pruneAfter", "resetArchiveRetention"}
    (box,) = openclaw.sandboxes(cfg)
    assert box.mode == "off" and "mode" in box.unset and box.read_only_root
    intent = openclaw_intent(cfg.path, (FIXTURES / "vulnerable/openclaw.json").read_text())
    assert intent and not intent.loopback_only and intent.auth == "none"


def test_hardened_config_as_openclaw_resolves_it():
    cfg = config("hardened")
    gw = openclaw.gateway(cfg)
    assert gw.loopback_only and gw.auth_mode == "token"
    assert gw.credential == "SecretRef (env OPENCLAW_GATEWAY_TOKEN)"
    m = openclaw.maintenance(cfg)
    assert m.enforced and m.prune_after_days == 30 and m.reset_archive_days == 30
    knob = openclaw_knob(cfg)
    assert knob.enabled and knob.days == 30 and "archives durable sessions" in knob.detail
    rt = openclaw_runtime(ConfigFile("openclaw", cfg.path, "json5", cfg.doc), None)
    assert rt.gaps == [] and rt.facts["sandbox.mode"] == "all"
    assert rt.facts["docker.readOnlyRoot"] is True  # unset: OpenClaw's default is true


def test_workspaces_come_from_agents_entries():
    """Onboarding writes agents.entries.<id>.workspace (not the legacy agents.list)."""
    cfg = config("hardened")
    assert any(w.endswith("/.openclaw/workspace") for w in _openclaw_workspaces(cfg.doc))
    assert openclaw.agent_ids(cfg) == ["main"]


@pytest.mark.parametrize("state,literal", [("vulnerable", True), ("hardened", False)])
def test_config_secrets_literal_or_secret_refs(state, literal):
    cfg = config(state)
    found = TableFacts()
    document_secrets(cfg.path, cfg.doc, found, set())
    assert bool(found.findings) is literal
    if not literal:
        assert any("apiKey" in r for r in found.references)


def test_rotated_backup_keeps_the_removed_gateway_token():
    """Every config write rotates openclaw.json.bak.N: the gateway token removed from openclaw.json
    is still in the .bak OpenClaw kept."""
    now = config("vulnerable")
    old = config("vulnerable", "openclaw.json.bak")
    assert now.get("gateway", "auth", "token") is None
    assert isinstance(old.get("gateway", "auth", "token"), str)


def test_origin_record_of_a_local_install():
    record = openclaw.loads((FIXTURES / "vulnerable/workspace/skills/weather-notes/.openclaw/"
                             "source-origin.json").read_text())
    assert record["source"] == "path" and record["version"] == 1
    assert isinstance(record["installedAt"], int)


def test_plugin_skill_links_are_openclaws_own():
    root = "/home/a/.openclaw"
    target = "/usr/lib/node_modules/openclaw/dist/extensions/canvas/skills/canvas"
    own = Entry("l", 0o777, "a", f"{root}/plugin-skills/canvas", target)
    stray = Entry("l", 0o777, "a", f"{root}/workspace/skills/x", "/etc")
    facts = judge(root, [Entry("d", 0o700, "a", root, ""), own, stray], "a", "test",
                  openclaw.APP)
    assert [e.path for e, _ in facts.own_links] == [own.path]
    assert [e.path for e, _ in facts.escaping_links] == [stray.path]
    other = judge(root, [own], "a", "test", "hermes")
    assert len(other.escaping_links) == 1


def test_per_agent_sandbox_override():
    cfg = openclaw.parse_config("c", '{agents: {defaults: {sandbox: {mode: "all"}}, '
                                'entries: {ops: {sandbox: {mode: "off", docker: '
                                '{readOnlyRoot: false}}}}}}')
    boxes = {b.agent: b for b in openclaw.sandboxes(cfg)}
    assert boxes["defaults"].mode == "all" and boxes["ops"].mode == "off"
    assert not boxes["ops"].read_only_root
    rt = openclaw_runtime(ConfigFile("openclaw", "c", "json5", cfg.doc), None)
    assert any(g.startswith("agents.entries.ops:") for g in rt.gaps)


def test_jsonl_history_is_dated_by_its_records_not_file_times(tmp_path):
    """OpenClaw transcript JSONL events carry an ISO `timestamp` and `message.timestamp`
    (ms); a freshly copied file of old events is old, whatever its mtime says."""
    import json
    import time

    from aiaudit.hostfs import HostFS
    from aiaudit.status import CouldNotCheck
    from aiaudit.storage.locate import FileInfo, Store
    from aiaudit.storage.retention import Knob, RetentionFacts, _record_ages

    old_ms = int((time.time() - 200 * 86400) * 1000)
    events = [{"type": "session", "timestamp": "2026-01-01T00:00:00.000Z"},
              {"type": "message", "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ"),
               "message": {"role": "user", "content": "hi", "timestamp": old_ms}}]
    path = tmp_path / "s.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in events) + "\n")
    info = FileInfo(str(path), path.stat().st_size, time.time(), 0o600, 0, "root")
    store = Store("openclaw", "jsonl", str(tmp_path), str(tmp_path), (info,))
    facts = _record_ages(HostFS("local"), store, RetentionFacts(Knob(False, False, None, "", "")))
    assert facts.oldest_days is not None and facts.oldest_days > 199
    assert facts.dated == {f"{tmp_path} records": 2}
    path.write_text('{"role": "user"}\n')
    with pytest.raises(CouldNotCheck):
        _record_ages(HostFS("local"), store, RetentionFacts(Knob(False, False, None, "", "")))


def test_include_merges_as_openclaws_loader_does():
    """docs/gateway/configuration/common-tasks.md: one file replaces the containing object,
    a list is deep-merged in order (later wins), sibling keys merge over the result, paths
    are relative to the including file; a missing include is an error, as for OpenClaw."""
    files = {"/c/gw.json5": "// gateway\n{bind: 'lan', auth: {mode: 'password'}}",
             "/c/a.json5": "{x: {one: 1, both: 'a'}}", "/c/sub/b.json5": "{x: {both: 'b'}}"}
    seen: list[str] = []
    doc = openclaw.resolve_includes(
        {"gateway": {"$include": "./gw.json5", "port": 1},
         "agents": {"$include": ["a.json5", "sub/b.json5"]}}, "/c", files.get, seen)
    assert doc == {"gateway": {"bind": "lan", "auth": {"mode": "password"}, "port": 1},
                   "agents": {"x": {"one": 1, "both": "b"}}}
    assert seen == ["/c/gw.json5", "/c/a.json5", "/c/sub/b.json5"]
    with pytest.raises(openclaw.IncludeError, match="does not exist"):
        openclaw.resolve_includes({"$include": "nope.json5"}, "/c", files.get, [])
    cfg = openclaw.Config("/c/openclaw.json", doc)
    assert openclaw.gateway(cfg).address == "0.0.0.0"


def test_config_elsewhere_is_found_where_openclaw_recorded_it(tmp_path):
    """A real state dir built with OPENCLAW_STATE_DIR and OPENCLAW_CONFIG_PATH elsewhere
    (selftests/fixtures/openclaw-variants/custom-paths.tar.gz): its shared store names the
    config OpenClaw loaded (config_health_entries / the latest config snapshot)."""
    import tarfile

    from aiaudit.hostfs import HostFS

    archive = Path(__file__).parent / "fixtures/openclaw-variants/custom-paths.tar.gz"
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path, filter="fully_trusted")
    state = tmp_path / "custom-paths/srv/openclaw-data"
    assert not (state / "openclaw.json").exists()
    recorded = openclaw.recorded_config_path(HostFS("local"), str(state))
    assert recorded == "/tmp/aiaudit-openclaw-variants/custom-paths/etc/openclaw/openclaw.json5"
    assert openclaw.is_state_listing({"state/openclaw.sqlite"})
    assert openclaw.is_state_dir_name("/home/u/.openclaw-work")
    assert not openclaw.is_state_dir_name("/home/u/.openclaw-")


class CountingFS:
    """The local host, counting the commands a reader sends (each is an SSH round trip on
    a remote target)."""

    def __init__(self) -> None:
        from aiaudit.hostfs import HostFS

        self.fs = HostFS("local")
        self.commands: list[str] = []

    def run(self, command: str, timeout: float = 60.0) -> tuple[int, str, str]:
        self.commands.append(command)
        return self.fs.run(command, timeout)

    def __getattr__(self, name: str):  # open, tree, argv: as the real one
        return getattr(self.fs, name)


def test_config_lookup_asks_once_for_many_state_dirs(tmp_path):
    """Which config and store files exist is one command for any number of candidate state
    dirs (batched under the argv limit), and every existing one is found."""
    states = [str(tmp_path / f"user-with-a-long-home-name-{n:04d}" / ".openclaw")
              for n in range(600)]
    real = Path(states[7])
    (real / "state").mkdir(parents=True)
    (real / "openclaw.json").write_text('{gateway: {bind: "loopback"}}')
    (real / "state" / "openclaw.sqlite").write_bytes(b"SQLite format 3\0")
    fs = CountingFS()
    paths = [p for s in states for p in openclaw.lookup_paths(s)]
    assert sum(len(p) + 3 for p in paths) > 128 * 1024  # more than one argv string holds
    present = openclaw.present_files(fs, paths)
    assert present == {str(real / "openclaw.json"), str(real / "state" / "openclaw.sqlite")}
    # 2,400 paths, 270 KiB quoted: 5 commands of under 64 KiB, not 2,400 round trips
    assert 2 <= len(fs.commands) <= 6 and all(len(c) < 64 * 1024 for c in fs.commands)
    fs.commands.clear()
    cfg = openclaw.read_config(fs, str(real), present=present)
    assert cfg.doc == {"gateway": {"bind": "loopback"}} and cfg.exists
    missing = openclaw.read_config(fs, states[8], present=present)
    assert not missing.exists and missing.doc is None
    # the config itself was read (a stream, not a command): no existence check per file
    assert fs.commands == []


VARIANTS = Path(__file__).parent / "fixtures" / "openclaw-variants"


def _variant_member(tmp_path: Path, variant: str, suffix: str) -> Path:
    """The first file of a recorded variant whose path contains `suffix`, extracted."""
    import tarfile

    with tarfile.open(VARIANTS / f"{variant}.tar.gz") as tar:
        members = [m for m in tar.getmembers() if m.isfile() and suffix in m.name]
        tar.extractall(tmp_path, members=members, filter="data")
    return tmp_path / members[0].name


def test_auth_profile_store_literals_as_openclaws_secrets_audit_lists_them(tmp_path):
    """The key `openclaw doctor --fix` imported from a legacy auth-profiles.json sits in
    state/openclaw.sqlite's 'authProfiles.store' row under profiles.<id>.key, a name no
    generic secret-word rule knows; the doctor's copy of the legacy file keeps it too."""
    import json
    import sqlite3

    db = _variant_member(tmp_path, "legacy-auth-doctor", "state/openclaw.sqlite")
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    docs = openclaw.auth_profile_documents(conn)
    conn.close()
    assert [label for label, _ in docs] == [
        "config_machine_state.value_json[authProfiles.store][row 1]"]
    literals = openclaw.auth_profile_literals(docs[0][1])
    assert [k for k, _ in literals] == ["profiles.openrouter:default.key"]
    assert literals[0][1].startswith("sk-or-v1-")
    migrated = _variant_member(tmp_path / "l", "legacy-auth-doctor",
                               "/auth-profiles.json.migrated-")
    assert openclaw.is_auth_profile_file(str(migrated.relative_to(
        tmp_path / "l/legacy-auth-doctor/.openclaw")))
    found = TableFacts()
    document_secrets(str(migrated), json.loads(migrated.read_text()), found, set())
    assert [f.masked.split("=")[0] for f in found.findings] == ["openrouter.apiKey"]
    ref = {"profiles": {"a": {"type": "api_key", "keyRef": {"source": "env", "id": "K"}},
                        "b": {"type": "token", "token": "${TOK}"}}}
    assert openclaw.auth_profile_literals(ref) == []


@pytest.mark.parametrize("host,canonical", [
    ("127.0.0.1", True), ("10.1.2.3", True), ("0.0.0.0", True), ("127.0.0.01", False),
    ("127.0.0.256", False), ("localhost", False), ("::1", False), ("127.1", False),
    ("", False)])
def test_custom_bind_host_is_bound_only_when_canonical(host, canonical):
    assert openclaw.canonical_ipv4(host) is canonical
    cfg = openclaw.Config("x", {"gateway": {"bind": "custom", "customBindHost": host}})
    assert openclaw.gateway(cfg).address == (host if canonical else "0.0.0.0")


def test_recorded_zero_padded_custom_host_listens_everywhere(tmp_path):
    path = _variant_member(tmp_path, "custom-bind-zero-pad", ".openclaw/openclaw.json")
    gw = openclaw.gateway(openclaw.parse_config(str(path), path.read_text()))
    assert (gw.address, gw.loopback_only) == ("0.0.0.0", False)


def test_exec_policy_yolo_runs_exec_on_the_gateway_host(tmp_path):
    """`openclaw exec-policy preset yolo` writes tools.exec.host gateway: SUP-05 names it,
    though agents.defaults.sandbox.mode is all."""
    path = _variant_member(tmp_path, "sandbox-exec-yolo", ".openclaw/openclaw.json")
    cfg = openclaw.parse_config(str(path), path.read_text())
    assert openclaw.exec_hosts(cfg) == {"defaults": ("gateway", False)}
    assert openclaw.sandbox(cfg).mode == "all"
    rt = openclaw_runtime(ConfigFile("openclaw", str(path), "json5", cfg.doc), None)
    assert rt.gaps == ["tools.exec.host is 'gateway': exec runs on the gateway host outside "
                       "the sandbox for every session (resolveExecTarget)"]
    fresh = openclaw.Config("x", {})
    assert openclaw.exec_hosts(fresh) == {"defaults": ("auto", True)}


def test_approvals_come_from_the_state_store_row_the_cli_writes(tmp_path):
    """`openclaw approvals set` (2026.9.6) writes the exec_approvals_config row 'current' of
    state/openclaw.sqlite, no exec-approvals.json: the suite reads the row (through a copy),
    SUP-05 names autoAllowSkills, and the socket token OpenClaw generated there is its own
    key, while the row's other text stays subject to the secret scan."""
    import sqlite3

    from aiaudit.hostfs import HostFS
    from aiaudit.storage.secrets.engine import digest_of, scan_text

    db = _variant_member(tmp_path, "approvals-auto-allow", ".openclaw/state/openclaw.sqlite")
    state = str(db.parent.parent)
    assert not (db.parent.parent / "exec-approvals.json").exists()
    doc, where = openclaw.read_exec_approvals(HostFS("local"), state)
    assert where == f"{db}#exec_approvals_config[current]"
    assert doc["defaults"]["autoAllowSkills"] is True
    cfg = ConfigFile("openclaw", f"{state}/openclaw.json", "json5", {})
    rt = openclaw_runtime(cfg, ConfigFile("openclaw-exec-approvals", where, "json", doc))
    assert "exec-approvals autoAllowSkills: skill commands run unapproved" in rt.gaps
    assert rt.facts["exec-approvals"] == where
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    own = openclaw.own_key_values(conn, columns=False)
    conn.close()
    assert [w for w, _ in own] == ["exec_approvals_config.raw_json socket.token"]
    assert own[0][1] == doc["socket"]["token"] and len(own[0][1]) == 32
    # the token in its row is found by the keyword rule, and matched as OpenClaw's own
    token, other = own[0][1], "Zq8" + own[0][1][3:]
    text = (f'{{"socket": {{"token": "{token}"}}, "lastUsedCommand": '
            f'"curl -H \'Authorization: Bearer {other}\'"}}')
    found = {f.digest for f in scan_text(text)}
    assert digest_of(own[0][1]) in found and len(found - {digest_of(own[0][1])}) == 1
    assert openclaw.read_exec_approvals(HostFS("local"), str(tmp_path)) is None  # no store


def test_state_store_is_copied_once_per_audit_for_every_area(tmp_path):
    """Supply chain reads the approvals row and storage the tables of the same
    state/openclaw.sqlite: both take the scope's one private copy of it (it was streamed
    twice per audit)."""
    from aiaudit.hostfs import HostFS
    from aiaudit.storage.snapshot import shared_copy

    db = _variant_member(tmp_path, "approvals-auto-allow", ".openclaw/state/openclaw.sqlite")
    fs, copies = HostFS("local"), {}
    doc, _ = openclaw.read_exec_approvals(fs, str(db.parent.parent), copies=copies)
    assert list(copies) == [str(db)] and doc["defaults"]["autoAllowSkills"] is True
    first = copies[str(db)]
    again = shared_copy(copies, fs, [(str(db), db.stat().st_size)], 1 << 30, "store")
    assert again is first and first.path.exists() and first.copied_bytes >= db.stat().st_size
    fresh = shared_copy(None, fs, [(str(db), db.stat().st_size)], 1 << 30, "store")
    assert fresh.path != first.path  # no cache: a copy of its own, as before
