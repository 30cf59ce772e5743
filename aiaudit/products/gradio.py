"""Gradio (PyPI `gradio` 6.31.0): the flagged data an app keeps below its working dir.

gradio/interface.py Interface(flagging_dir=".gradio/flagged", flagging_mode from
GRADIO_FLAGGING_MODE, default "manual": a Flag button under every answer; "auto" flags
every turn); gradio/flagging.py CSVLogger: `datasetN.csv` in flagging_dir (dataset1.csv,
the next number when the components' labels change), one column per input and output
component, the flag option and username when given, and `timestamp` last
(str(datetime.datetime.now()): local time "YYYY-MM-DD HH:MM:SS.ffffff"); files a component
saves (images, audio) go to flagging_dir/<label>/. Rows are appended and never deleted:
no retention setting exists. Written at the process umask, in plain text.
"""

from __future__ import annotations

APP = "gradio"
VERSION = "6.31.0"
# below the app's working dir (a dir the audit names): the state dir and its CSV stores
STATE_DIR = ".gradio"
DATASETS = ("flagged/dataset*.csv",)
TIME_COLUMN = "timestamp"  # flagging.py CSVLogger.flag: the last column
RETENTION = (f"none: gradio {VERSION} appends flagged rows to .gradio/flagged/datasetN.csv "
             "and never deletes them (gradio/flagging.py CSVLogger)")
