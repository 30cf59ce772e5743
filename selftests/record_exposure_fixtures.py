"""Records the answers of real servers to the catalog's discovery probes, as fingerprint
fixtures (selftests/fixtures/exposure/answers/*.json). Run against live servers, e.g.:

    python3 selftests/record_exposure_fixtures.py llama-cpp-python-open http://10.77.11.2:8000

Only the discovery probe's declared GETs are sent, through the suite's SafeClient.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

from aiaudit.exposure import probes
from aiaudit.exposure.fingerprint import Answer
from aiaudit.http import SafeClient

OUT = Path(__file__).parent / "fixtures" / "exposure" / "answers"
KEEP_HEADERS = ("server", "content-type", "www-authenticate", "access-control-allow-origin",
                "access-control-allow-credentials", "content-security-policy", "location")
MAX_BODY = 256_000  # as discovery reads them


def record(name: str, base: str, source: str) -> Path:
    client = SafeClient()
    answers = {}
    for path in probes.discovery_paths():
        result = client.get(probes.DISCOVERY, base.rstrip("/") + path, max_bytes=MAX_BODY)
        if result.status is None:
            continue
        answer = Answer.from_result(result).to_dict()
        answer["headers"] = {k: v for k, v in answer["headers"].items() if k in KEEP_HEADERS}
        answers[path] = answer
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name}.json"
    doc = {"source": source, "recorded": dt.date.today().isoformat(), "answers": answers}
    path.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    return path


if __name__ == "__main__":
    print(record(sys.argv[1], sys.argv[2], " ".join(sys.argv[3:]) or sys.argv[2]))
