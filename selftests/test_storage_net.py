"""STO-08 / STO-01 judgement on recorded answers: history APIs from the lab (recorded with
curl), mount-encryption command output, and the exposure discovery's service objects."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiaudit.exposure.discovery import NetService
from aiaudit.exposure.fingerprint import Identification
from aiaudit.exposure.listeners import AiListener, Listener
from aiaudit.hostfs import HostFS
from aiaudit.storage.history_api import history_apis, judge_answer, loopback_apis
from aiaudit.storage.mounts import SEP, mount_script, parse_mount

FIXTURES = Path(__file__).parent / "fixtures" / "storage"


def recorded(name: str) -> tuple[int, str, bytes]:
    head, _, body = (FIXTURES / name).read_bytes().partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    ctype = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    return int(lines[0].split()[1]), ctype, body


@pytest.mark.parametrize("name, outcome", [
    ("vulnerable_api_sessions.http", "history"),
    ("vulnerable_chroma_collections.http", "history"),  # empty, but open to anyone
    ("hardened_api_sessions.http", "refused"),
    ("hardened_chats_404.http", "absent"),
])
def test_recorded_history_answers(name, outcome):
    status, ctype, body = recorded(name)
    assert judge_answer("/p", status, ctype, body, None).outcome == outcome


def test_vulnerable_sessions_answer_counts_items():
    status, ctype, body = recorded("vulnerable_api_sessions.http")
    assert "9 item(s)" in judge_answer("/api/sessions", status, ctype, body, None).detail


def test_no_answer_is_unreachable_never_refused():
    answer = judge_answer("/api/sessions", None, "", b"", "connection refused")
    assert answer.outcome == "unreachable"


def _svc(port: int, service: str | None) -> NetService:
    ident = Identification(service, 5.0 if service else 0.0, 1.0 if service else 0.0, (), None)
    return NetService("10.0.0.5", port, "http", ident=ident)


def test_history_apis_keep_history_services_and_skip_llm_servers():
    apis = history_apis([_svc(8000, "llama-cpp-python server"), _svc(8001, "Chroma"),
                         _svc(8080, "OpenAI-compatible API"), _svc(3000, "Open WebUI")])
    assert [(a.service, a.paths[0]) for a in apis] == [
        ("Chroma", "/api/v2/tenants/default_tenant/databases/default_database/collections"),
        ("OpenAI-compatible API", "/api/sessions"), ("Open WebUI", "/api/v1/chats/")]


def test_loopback_listeners_become_relayed_cases():
    listeners = [AiListener("aiaudit.lab.agent", "process", Listener("127.0.0.1", 8080, 1, "py")),
                 AiListener("llama-cpp-python server", "process",
                            Listener("127.0.0.1", 8000, 2, "py")),
                 AiListener("Chroma", "process", Listener("0.0.0.0", 8001, 3, "chroma"))]
    apis = loopback_apis(listeners, "10.0.0.5")
    assert [(a.case_id, a.loopback_only) for a in apis] == [
        ("aiaudit.lab.agent@127.0.0.1:8080", True)]


def _mount_output(findmnt: str, lsattr: str = "", lsblk: str = "", dm: str = "",
                  zfs: str = "") -> str:
    return f"\n{SEP}\n".join([findmnt, lsattr, lsblk, dm, zfs])


FINDMNT = '{"filesystems": [{"target": "%s", "source": "%s", "fstype": "%s"}]}'


@pytest.mark.parametrize("out, encrypted, how", [
    (_mount_output(FINDMNT % ("/", "/dev/vda", "ext4"), "", "vda disk "), False, "no encryption"),
    (_mount_output(FINDMNT % ("/home", "/dev/mapper/luks-1f2e", "ext4"), "",
                   "luks-1f2e crypt ext4\nsda2 part crypto_LUKS\nsda disk "), True, "dm-crypt"),
    (_mount_output(FINDMNT % ("/srv", "/dev/mapper/vault", "xfs"), "", "vault dm xfs",
                   "vault CRYPT-PLAIN-vault"), True, "dm-crypt"),
    (_mount_output(FINDMNT % ("/home/u", "/home/.ecryptfs/u/.Private", "ecryptfs")), True,
     "eCryptfs"),
    (_mount_output(FINDMNT % ("/data", "gocryptfs@/cipher", "fuse.gocryptfs")), True,
     "gocryptfs"),
    (_mount_output(FINDMNT % ("/", "/dev/sda1", "ext4"), "--------------E------- /h/.hermes"),
     True, "fscrypt"),
    (_mount_output(FINDMNT % ("/tank", "tank/ai", "zfs"), "", "", "", "aes-256-gcm"), True,
     "ZFS encryption=aes-256-gcm"),
    (_mount_output(FINDMNT % ("/tank", "tank/ai", "zfs"), "", "", "", "off"), False,
     "ZFS encryption=off"),
])
def test_mount_encryption_layers(out, encrypted, how):
    facts = parse_mount("/x", out)
    assert facts.encrypted is encrypted and how in facts.how


def test_mount_script_runs_here_and_finds_the_root_mount(tmp_path):
    _, out, _ = HostFS("local").run(mount_script(str(tmp_path)))
    facts = parse_mount(str(tmp_path), out)
    assert facts.target.startswith("/") and facts.fstype not in ("", "?")
