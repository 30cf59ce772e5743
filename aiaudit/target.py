"""How a deployment is named on the command line and how the suite reaches it.

`--target` forms (testinfra-style, chosen by scheme):
  local                     this machine: network probes to its addresses, host checks in-process
  ssh://[user@]host[:port]  network probes to host, host checks over SSH
  docker://container        host checks inside the container
  host or IP                network only: host-side controls are NOT_APPLICABLE
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

USAGE = (
    "--target=SPEC is required: local | ssh://[user@]host[:port] | docker://container | HOST"
)

_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9-]{1,63})*\.?$")
_USER = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_CONTAINER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


class TargetError(ValueError):
    """The --target value cannot be used; the message is a one-line usage hint."""


@dataclass(frozen=True)
class Target:
    spec: str
    kind: str  # "local" | "ssh" | "docker" | "network"
    address: str  # where network probes go
    user: str | None = None
    port: int | None = None
    container: str | None = None

    @property
    def host_access(self) -> bool:
        """Whether host-side (testinfra) checks can run."""
        return self.kind != "network"

    def testinfra_spec(self) -> str | None:
        if self.kind == "local":
            return "local://"
        if self.kind == "ssh":
            user = f"{self.user}@" if self.user else ""
            port = f":{self.port}" if self.port else ""
            return f"ssh://{user}{self.address}{port}"
        if self.kind == "docker":
            return f"docker://{self.container}"
        return None

    @property
    def slug(self) -> str:
        """A file-name-safe form of the spec for report names."""
        return re.sub(r"[^A-Za-z0-9._-]+", "-", self.spec).strip("-") or "target"


def _valid_host(host: str) -> bool:
    candidate = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        ipaddress.ip_address(candidate)
        return True
    except ValueError:
        return bool(_HOSTNAME.match(host))


def parse_target(spec: str | None) -> Target:
    """Parse a --target value or raise TargetError with a usage line."""
    if spec is None or not spec.strip():
        raise TargetError(USAGE)
    spec = spec.strip()
    if spec == "local":
        return Target(spec, "local", "127.0.0.1")
    if spec.startswith("ssh://"):
        rest = spec[len("ssh://") :].rstrip("/")
        user = None
        if "@" in rest:
            user, rest = rest.split("@", 1)
            if not _USER.match(user):
                raise TargetError(f"invalid user {user!r} in --target; {USAGE}")
        host, port = rest, None
        if rest.count(":") == 1 or (rest.startswith("[") and "]:" in rest):
            host, _, port_text = rest.rpartition(":")
            if not port_text.isdigit() or not 0 < int(port_text) < 65536:
                raise TargetError(f"invalid port {port_text!r} in --target; {USAGE}")
            port = int(port_text)
        if not host or not _valid_host(host):
            raise TargetError(f"ssh target needs a host: ssh://[user@]host[:port] (got {spec!r})")
        return Target(spec, "ssh", host.strip("[]"), user=user, port=port)
    if spec.startswith("docker://"):
        name = spec[len("docker://") :]
        if not _CONTAINER.match(name):
            raise TargetError(f"docker target needs a container name: docker://NAME (got {spec!r})")
        return Target(spec, "docker", name, container=name)
    if "://" in spec:
        raise TargetError(f"unsupported scheme in --target {spec!r}; {USAGE}")
    if not _valid_host(spec):
        raise TargetError(f"--target {spec!r} is not a host name or IP address; {USAGE}")
    return Target(spec, "network", spec.strip("[]"))
