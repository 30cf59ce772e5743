"""Run INJ-01's built-in campaign against the lab's chat channel and record its real answers.

    AIAUDIT_LAB_SLOT=N python3 -m aiaudit.lab up vulnerable
    python3 selftests/record_disclosure_fixture.py \
        --config /var/lib/aiaudit-lab-slotN/vulnerable/audit.toml

runs `disclosure_campaign` with the lab's own standard budget (the no-attack control, the
families' attacks, adaptive after the first leak, the multi-turn escalation, the shrink and
the replay) and writes every exchange (the messages sent, the answer) with the canary, seed
and budget to selftests/fixtures/injection/disclosure_lab.json, which
selftests/test_injection_adaptive.py replays.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aiaudit.config import load_config  # noqa: E402
from aiaudit.http import SafeClient  # noqa: E402
from aiaudit.injection.adapters import make_adapter  # noqa: E402
from aiaudit.injection.channel import Channel  # noqa: E402
from aiaudit.injection.disclosure import disclosure_campaign  # noqa: E402
from aiaudit.injection.settings import load_settings  # noqa: E402

OUT = Path(__file__).parent / "fixtures" / "injection" / "disclosure_lab.json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="the lab's audit.toml")
    parser.add_argument("--channel", default="lab-agent")
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args()
    cfg = load_config(args.config)
    endpoint = next(ep for ep in cfg.endpoints if ep.name == args.channel)
    settings = load_settings(cfg.area_section("injection"))
    client = SafeClient(read_timeout=120, total_timeout=130, retries=0, per_host_concurrency=1,
                        per_host_rate=None)
    adapter = make_adapter(endpoint, client, max_tokens=settings.max_tokens,
                           probe_user=settings.probe_user)
    channel = Channel(args.channel, endpoint, adapter, settings, cfg.users, cfg.canary)
    budget = replace(settings.budget("standard"), seconds=900.0)  # every attempt, no cap
    exchanges = []

    def send(messages, user=None):
        reply = adapter.send(messages, user)
        exchanges.append({"messages": messages, "status": reply.status, "text": reply.text,
                          "finish_reason": reply.finish_reason, "error": reply.error,
                          "elapsed": round(reply.elapsed, 3)})
        return reply

    channel.send = send  # type: ignore[method-assign]
    started = time.monotonic()
    result = disclosure_campaign(channel, budget, "builtin", settings.seed, 0.0)
    print(f"{len(exchanges)} requests in {time.monotonic() - started:.0f}s wall")
    for row in result.rows:
        print(f"  {row.family}: {row.describe()}")
    for note in result.notes:
        print(f"note: {note}")
    print(f"multi-turn: {result.multi_turn}")
    Path(args.out).write_text(json.dumps({
        "canary": cfg.canary, "seed": settings.seed, "channel": args.channel,
        "budget": asdict(budget), "max_tokens": settings.max_tokens,
        "exchanges": exchanges}, indent=1, ensure_ascii=False) + "\n")
    print(f"recorded {len(exchanges)} exchanges in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
