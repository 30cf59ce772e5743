"""A packet tap for the lab: HTTP request lines sent to a deployment, seen on the wire.

Used by the safety self-test and the nmap benchmark to see, from outside any client, what
an audit tool actually sent. Reads the auditor's side of a deployment's veth with an
AF_PACKET socket (root); TLS payloads are opaque to it (Caddy's access log covers those).
"""

from __future__ import annotations

import socket
import struct
import threading
import time

HTTP_METHODS = ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE", "TRACE", "CONNECT",
                "PROPFIND")


class Tap:
    """Reads every TCP segment on an interface (AF_PACKET) and keeps HTTP request lines sent
    to one address."""

    def __init__(self, ifname: str, dst: str):
        self.dst = socket.inet_aton(dst)
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(0x0003))
        self.sock.bind((ifname, 0))
        self.sock.settimeout(0.2)
        self.requests: list[tuple[int, str, str]] = []  # (port, method, target)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                frame = self.sock.recv(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            self._parse(frame)

    def _parse(self, frame: bytes) -> None:
        if len(frame) < 34 or frame[12:14] != b"\x08\x00":
            return
        ip = frame[14:]
        ihl = (ip[0] & 0x0F) * 4
        if ip[9] != 6 or ip[16:20] != self.dst:
            return
        tcp = ip[ihl:]
        port = struct.unpack("!H", tcp[2:4])[0]
        payload = tcp[(tcp[12] >> 4) * 4:]
        line = payload.split(b"\r\n", 1)[0].decode("latin-1", "replace")
        parts = line.split(" ")
        if len(parts) == 3 and parts[0] in HTTP_METHODS and parts[2].startswith("HTTP/"):
            self.requests.append((port, parts[0], parts[1]))

    def close(self) -> list[tuple[int, str, str]]:
        time.sleep(0.5)  # let the last segments arrive
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()
        return self.requests


