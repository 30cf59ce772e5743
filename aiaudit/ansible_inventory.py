"""Fleets from an Ansible inventory: `--target=@inventory.ini` (or .yml) lists the hosts.

The inventory is read the way testinfra's ansible backend reads it (its AnsibleRunner runs
`ansible-inventory --list`, so groups, group_vars and host_vars count), and each host
becomes the target spec its connection variables describe: `ansible_connection` ssh (or
smart/paramiko) with `ansible_host`, `ansible_user`, `ansible_port` -> ssh://user@host:port,
`local` -> local, `docker` -> docker://name. What a spec cannot carry (a per-host key file, a
password, become) is a usage error naming the host: the audit would otherwise log in
differently from the inventory. Needs ansible-core (pip install ansible-core).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from aiaudit.target import TargetError

INVENTORY_SUFFIXES = (".ini", ".yml", ".yaml", ".cfg", ".inventory")
_UNSUPPORTED = ("ansible_ssh_private_key_file", "ansible_private_key_file",
                "ansible_ssh_pass", "ansible_password", "ansible_become")


def is_inventory(path: Path, lines: list[str]) -> bool:
    """An Ansible inventory rather than a list of specs: by suffix, or INI group headers."""
    if path.suffix in INVENTORY_SUFFIXES:
        return True
    return any(line.strip().startswith("[") and line.strip().endswith("]") for line in lines)


def inventory_specs(path: Path) -> list[str]:
    """Target specs of every host in the inventory, in the inventory's sorted host order."""
    if shutil.which("ansible-inventory") is None:
        raise TargetError(f"--target @{path}: an Ansible inventory needs ansible-inventory "
                          "(pip install ansible-core)")
    from testinfra.utils.ansible_runner import AnsibleRunner

    runner = AnsibleRunner(str(path))
    try:
        hosts = runner.get_hosts("all")
    except Exception as exc:  # ansible-inventory's own message, one line
        detail = str(exc).strip().splitlines()
        raise TargetError(f"--target @{path}: not a readable Ansible inventory: "
                          f"{detail[-1] if detail else type(exc).__name__}") from None
    if not hosts:
        raise TargetError(f"--target @{path}: the Ansible inventory has no hosts")
    return [_spec(path, name, runner.get_variables(name)) for name in hosts]


def _spec(path: Path, name: str, hostvars: dict) -> str:
    for key in _UNSUPPORTED:
        if hostvars.get(key):
            raise TargetError(f"{path}: host {name}: {key} is not supported; put the key in "
                              "[ssh] identity_file or an ssh_config ([ssh] config_file)")
    connection = hostvars.get("ansible_connection", "ssh")
    address = str(hostvars.get("ansible_host", name))
    if connection == "local":
        return "local"
    if connection in ("docker", "community.docker.docker"):
        return f"docker://{address}"
    if connection not in ("ssh", "smart", "paramiko", "paramiko_ssh"):
        raise TargetError(f"{path}: host {name}: ansible_connection {connection!r} is not "
                          "supported (ssh, local or docker)")
    user = hostvars.get("ansible_user")
    port = hostvars.get("ansible_port")
    host = f"[{address}]" if ":" in address else address
    return f"ssh://{f'{user}@' if user else ''}{host}{f':{port}' if port else ''}"
