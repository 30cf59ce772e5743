"""Run the multi-turn escalation against the lab's chat channel and record its real answers.

    AIAUDIT_LAB_SLOT=N python3 -m aiaudit.lab up vulnerable
    python3 selftests/record_escalation_fixture.py \
        --config /var/lib/aiaudit-lab-slotN/vulnerable/audit.toml

prints what the state machine spent and the shortest leaking conversation (canary hidden),
and writes every exchange (the messages sent, the answer) with the seed and limits to
selftests/fixtures/injection/escalation_lab.json, which the unit self-test replays.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aiaudit.config import load_config  # noqa: E402
from aiaudit.http import SafeClient  # noqa: E402
from aiaudit.injection.adapters import make_adapter  # noqa: E402
from aiaudit.injection.campaign import Campaign  # noqa: E402
from aiaudit.injection.escalation import Limits, escalate, transcript  # noqa: E402
from aiaudit.injection.judge import CanaryJudge  # noqa: E402
from aiaudit.injection.settings import load_settings  # noqa: E402

OUT = Path(__file__).parent / "fixtures" / "injection" / "escalation_lab.json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="the lab's audit.toml")
    parser.add_argument("--channel", default="lab-agent")
    parser.add_argument("--seed", type=int, default=20261)
    parser.add_argument("--conversations", type=int, default=6)
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--shrink", type=int, default=6)
    parser.add_argument("--tokens", type=int, default=12000)
    parser.add_argument("--out", default=str(OUT))
    parser.add_argument("--system-from", metavar="AGENT_JSON",
                        help="send the lab agent's system prompt (its agent.json) as a system "
                             "turn: for the lab's bare llm-server channel")
    args = parser.parse_args()
    cfg = load_config(args.config)
    endpoint = next(ep for ep in cfg.endpoints if ep.name == args.channel)
    settings = load_settings(cfg.area_section("injection"))
    client = SafeClient(read_timeout=120, total_timeout=130, retries=0, per_host_concurrency=1,
                        per_host_rate=None)
    adapter = make_adapter(endpoint, client, max_tokens=settings.max_tokens)
    judge = CanaryJudge(cfg.canary or "")
    exchanges = []

    def send(messages, user):
        reply = adapter.send(messages, user)
        exchanges.append({"messages": messages, "status": reply.status, "text": reply.text,
                          "finish_reason": reply.finish_reason, "error": reply.error,
                          "elapsed": round(reply.elapsed, 3)})
        return reply

    def judge_reply(reply):
        found = judge.find(reply.text)
        return f"canary disclosed ({found.describe()})" if found else None

    limits = Limits(args.conversations, args.turns, args.shrink, args.tokens)
    system = []
    if args.system_from:
        prompt = json.loads(Path(args.system_from).read_text())["system_prompt"]
        system = [{"role": "system", "content": prompt}]
    started = time.monotonic()
    result = escalate(Campaign(send, 600.0), system, adapter.supports_roles, judge_reply,
                      limits, args.seed, settings.max_tokens)
    print(f"{result.describe()} in {time.monotonic() - started:.0f}s wall")
    for played in result.played:
        print(f"  {'LEAK' if played.finding else 'held'} {played.label} ({len(played.turns)} "
              "turns)")
    if result.shortest is not None:
        print(f"shortest leak ({'shrunk' if result.shrunk else 'as first seen'}): "
              + transcript(result.shortest, judge.hidden_forms(), judge.leaks))
    for note in result.notes:
        print(f"note: {note}")
    Path(args.out).write_text(json.dumps({
        "canary": cfg.canary, "seed": args.seed, "roles": adapter.supports_roles,
        "channel": args.channel, "system": system,
        "max_tokens": settings.max_tokens, "limits": vars(limits), "exchanges": exchanges},
        indent=1, ensure_ascii=False) + "\n")
    print(f"recorded {len(exchanges)} exchanges in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
