"""Gradio's flagged data written by the real gradio (6.31.0 in /opt/aiaudit-fw/gradio),
for selftests/test_storage_gradio.py. gradio/interface.py: `flagging_dir` defaults to
".gradio/flagged" below the app's working dir, flagging_mode "manual" (GRADIO_FLAGGING_MODE);
gradio/flagging.py CSVLogger.setup/flag: `dataset1.csv` (the next free datasetN.csv when
the headers change) with one column per component label, then `timestamp`
(str(datetime.datetime.now()): local time, "YYYY-MM-DD HH:MM:SS.ffffff"); nothing ever
deletes a row. The flag is made through CSVLogger's own API, in gradio's own venv.

* gradio-flagged: a chat app's dir whose user flagged an answer after pasting a key, at the
  umask (dirs 0755, dataset1.csv 0644), the row moved 200 days back through its own
  timestamp column;
* gradio-clean: a flagged answer without a secret, today, dirs 0700 and the CSV 0600.
"""

from __future__ import annotations

import csv
import datetime
import os
import subprocess
from pathlib import Path

GRADIO_PY = Path(os.environ.get("AIAUDIT_GRADIO_VENV", "/opt/aiaudit-fw/gradio")) / "bin" / "python"
# a fake key of the OpenAI shape (never issued), as a user pastes it
PLANTED = "sk-proj-" + "Gr4dXo9Lk2Qm7Vb1Nc6Zx3Wt8Ys5Ha0Pj" + "Fe2Du9Cs6Br3Aq8Tz"
DAYS_OLD = 200

FLAG = r"""
import sys
import gradio as gr
flagging_dir, message, reply = sys.argv[1:4]
message_box, reply_box = gr.Textbox(label="message"), gr.Textbox(label="reply")
logger = gr.CSVLogger()
logger.setup([message_box, reply_box], flagging_dir)
print(logger.flag([message, reply]))
"""


def _flag(app_dir: Path, message: str, reply: str) -> Path:
    """One flag through gradio's CSVLogger, run from the app's dir (its default place)."""
    flagged = app_dir / ".gradio" / "flagged"
    subprocess.run([str(GRADIO_PY), "-c", FLAG, ".gradio/flagged", message, reply],
                   cwd=app_dir, check=True, capture_output=True, timeout=300,
                   env={"PATH": "/usr/bin:/bin", "HOME": str(app_dir),
                        "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"})
    return flagged / "dataset1.csv"


def _backdate(dataset: Path, days: int) -> None:
    rows = list(csv.reader(dataset.open(newline="", encoding="utf-8")))
    for row in rows[1:]:
        when = datetime.datetime.fromisoformat(row[-1]) - datetime.timedelta(days=days)
        row[-1] = str(when)
    with dataset.open("w", newline="", encoding="utf-8") as out:
        csv.writer(out).writerows(rows)


def build(root: Path) -> dict[str, Path]:
    """{label: app dir} of the two states."""
    out = {}
    app = root / "gradio-flagged"
    app.mkdir(parents=True)
    dataset = _flag(app, f"Use my key {PLANTED} for the deploy script", "Noted.")
    _backdate(dataset, DAYS_OLD)
    for d in (app, app / ".gradio", dataset.parent):
        d.chmod(0o755)
    dataset.chmod(0o644)
    out["gradio-flagged"] = app
    app = root / "gradio-clean"
    app.mkdir(parents=True)
    dataset = _flag(app, "List three colours.", "Red, green, blue.")
    for d in (app, app / ".gradio", dataset.parent):
        d.chmod(0o700)
    dataset.chmod(0o600)
    out["gradio-clean"] = app
    return out
