"""MLflow tracing (PyPI `mlflow` 3.17.2): the traces of LLM calls in its SQLite tracking
store `mlflow.db` (`trace_info`, `spans`). Facts and their source files:
`aiaudit/data/mlflow_traces.toml`."""

from __future__ import annotations

from aiaudit.products.appstore import StoreApp

APP = "mlflow"
PRODUCT = StoreApp(APP, "mlflow_traces")
