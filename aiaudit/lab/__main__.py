"""CLI: ``python -m aiaudit.lab up NAME | down [NAME] | status`` (NAME ``real``: the
real-servers lab of :mod:`aiaudit.lab.realservers`).

stdout is reserved for machine-readable JSON (one line for ``up``, one object for
``status``) so self-tests and scripts can parse it; progress and errors go to stderr.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from . import deploy, dockerlab, realservers
from .errors import EXIT_FAILED, LabError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m aiaudit.lab",
                                     description="aiaudit reference deployments")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start a deployment (restarting it if already up)")
    up.add_argument("name", choices=[*sorted(deploy.SPECS), "docker", "real"])
    down = sub.add_parser("down", help="stop deployments (all when no name is given)")
    down.add_argument("name", nargs="?", choices=[*sorted(deploy.SPECS), "docker", "real"])
    sub.add_parser("status", help="print what runs, as JSON")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "up" and args.name == "docker":
            print(json.dumps(dataclasses.asdict(dockerlab.up())), flush=True)
        elif args.command == "up" and args.name == "real":
            print(json.dumps(realservers.up()), flush=True)
        elif args.command == "up":
            print(json.dumps(deploy.up(args.name)), flush=True)
        elif args.command == "down":
            if args.name in (None, "docker"):
                dockerlab.down()
            if args.name in (None, "real"):
                realservers.down()
            if args.name not in ("docker", "real"):
                deploy.down([args.name] if args.name else None)
        else:
            print(json.dumps(deploy.status(), indent=2, sort_keys=True), flush=True)
    except LabError as exc:
        print(f"aiaudit.lab: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("aiaudit.lab: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 (one line, not a traceback, for tool failures)
        print(f"aiaudit.lab: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return 0


if __name__ == "__main__":
    sys.exit(main())
