"""`python3 -m aiaudit.exposure.scan HOST [--extra-ports 8080,8001] [--json]`

Discovery and fingerprinting alone, outside pytest: which AI services answer on HOST, with
version, confidence and the signals that named them. Sends only the discovery probe's
declared read-only GETs, through the same SafeClient as the audit.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from aiaudit.exposure.discovery import discover, scanned_ports
from aiaudit.http import SafeClient


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m aiaudit.exposure.scan",
                                     description=__doc__.splitlines()[2].strip())
    parser.add_argument("host")
    parser.add_argument("--extra-ports", default="", help="comma-separated extra ports")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    parser.add_argument("--host-budget", type=float, default=30.0, metavar="SECONDS",
                        help="total time one host:port may cost (default 30)")
    args = parser.parse_args(argv)
    try:
        extra = [int(p) for p in args.extra_ports.split(",") if p.strip()]
    except ValueError:
        parser.error("--extra-ports takes comma-separated port numbers")
    started = time.monotonic()
    # one second's worth of requests at once per port, then the usual 20 per second: a
    # short discovery does not wait out the rate (the audit allows a burst of 4)
    with SafeClient(host_budget=args.host_budget, per_host_burst=20) as client:
        found = discover(client, args.host, extra)
        records = client.records
    elapsed = time.monotonic() - started
    doc = {
        "host": args.host, "ports_scanned": len(scanned_ports(extra)),
        "elapsed": round(elapsed, 3), "requests": len(records),
        "services": [{**s.summary(), "ai": s.is_ai} for s in found],
    }
    if args.json:
        print(json.dumps(doc))
        return 0
    for svc in found:
        print(svc.describe().replace("; signals:", f" at {svc.endpoint}; signals:", 1)
              if "; signals:" in svc.describe() else f"{svc.describe()} at {svc.endpoint}")
    print(f"{len(found)} HTTP services on {doc['ports_scanned']} ports in {elapsed:.2f}s "
          f"({len(records)} requests)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
