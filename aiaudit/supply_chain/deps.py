"""Dependency files inside a skill: typosquats of popular packages and package indexes that
an attacker on the path (plain HTTP) or a throw-away host (raw IP) controls.

Squatters imitate what people install most (PyPI `reqeusts`, `python3-dateutil`,
`colourama`; npm `crossenv`, `discord.jss`): a name one edit or one look-alike character
away from a popular package, which is not itself a known package, is a finding. Files read:
requirements*.txt, constraints*.txt, Pipfile, pyproject.toml, setup.py/setup.cfg,
package.json, .npmrc, pip.conf.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import posixpath
import re
from collections.abc import Iterator
from urllib.parse import urlsplit

from aiaudit.supply_chain.findings import Finding, excerpt
from aiaudit.supply_chain.textctx import TextFile

POPULAR_PYPI = (
    "requests", "urllib3", "numpy", "pandas", "django", "flask", "boto3", "botocore",
    "setuptools", "pyyaml", "cryptography", "pillow", "matplotlib", "scipy", "beautifulsoup4",
    "selenium", "openai", "anthropic", "langchain", "httpx", "aiohttp", "pydantic", "fastapi",
    "colorama", "python-dateutil", "jinja2", "click", "tqdm", "pytest", "scikit-learn",
    "tensorflow", "torch", "transformers", "discord.py", "python-telegram-bot", "web3", "rich",
    "paramiko", "psutil", "pymongo", "redis", "sqlalchemy", "lxml", "pycryptodome", "uvicorn",
    "python-dotenv", "certifi", "idna", "charset-normalizer", "huggingface-hub", "playwright",
    "openpyxl", "xlsxwriter", "pyperclip", "termcolor", "simplejson", "jellyfish", "pyjwt",
)
POPULAR_NPM = (
    "lodash", "express", "react", "axios", "chalk", "commander", "request", "moment", "debug",
    "dotenv", "uuid", "webpack", "typescript", "colors", "async", "underscore", "jquery", "vue",
    "node-fetch", "yargs", "discord.js", "openai", "mongoose", "body-parser", "cross-env",
    "eslint", "prettier", "puppeteer", "electron", "ethers", "web3", "socket.io", "nodemailer",
    "jsonwebtoken", "bcrypt", "crypto-js", "@anthropic-ai/sdk", "@modelcontextprotocol/sdk",
    "playwright", "zod", "dayjs", "minimist", "glob", "rimraf", "semver", "ws", "cheerio",
)
# Real packages that sit one edit from a popular one (never squats).
KNOWN_NEIGHBOURS = {
    "request", "requests", "color", "colors", "colour", "click", "flask", "pyyaml", "yaml",
    "boto", "boto3", "botocore", "httpx", "httpcore", "jinja2", "jinja", "pillow", "pytest",
    "pytest-cov", "torch", "redis", "rich", "numpy", "scipy", "django", "web3", "ethers",
    "dotenv", "python-dotenv", "chalk", "async", "debug", "uuid", "glob", "globby", "ws",
    "got", "ky", "vite", "jest", "mocha", "chai", "react-dom", "preact", "express-session",
    "openai", "anthropic", "lxml", "pymongo", "pymysql", "pyjwt", "jwt", "semver", "zod",
    "dayjs", "moment", "commander", "discord.py", "discord.js", "idna", "tqdm", "attrs",
    "cattrs", "six", "mock", "nose", "toml", "tomli", "tomlkit", "black", "isort", "mypy",
    "types-requests", "beautifulsoup", "httplib2", "requests-oauthlib", "requests-toolbelt",
    "urllib3", "aiofiles",
}
_HOMOGLYPH = str.maketrans({"0": "o", "1": "l", "3": "e", "4": "a", "5": "s", "7": "t",
                            "i": "l", "_": "-", ".": "-"})
_DEP_FILE = re.compile(r"^(?:requirements[\w.-]*\.(?:txt|in)|constraints[\w.-]*\.txt|Pipfile|"
                       r"pyproject\.toml|setup\.py|setup\.cfg|package\.json|\.npmrc|pip\.conf|"
                       r"pip\.ini|\.yarnrc(?:\.yml)?|bunfig\.toml)$")
_INDEX = re.compile(r"(?im)(?:--(?:extra-)?index-url|(?<![\w-])-i|--find-links|(?<![\w-])-f|"
                    r"\b(?:extra[-_])?index[-_]url|\bregistry|\bnpmRegistryServer|\burl)"
                    r"\s*[=:\s]\s*[\"']?((?:https?|git\+https?)://[^\s\"',]+)")
_REQ_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(?:[<>=!~;@]|$)")
_QUOTED_REQ = re.compile(r"[\"']([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*"
                         r"(?:[<>=!~;][^\"']*)?[\"']")


def is_dependency_file(path: str) -> bool:
    return _DEP_FILE.match(posixpath.basename(path)) is not None


def _distance(a: str, b: str) -> int:
    """Levenshtein distance with adjacent transpositions (`reqeusts`)."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cost = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cost = min(cost, prev2[j - 2] + 1)
            cur.append(cost)
        prev2, prev = prev, cur
    return prev[-1]


@functools.lru_cache(maxsize=4096)
def squatted(name: str, ecosystem: str) -> str | None:
    """The popular package a dependency name imitates, if it does."""
    low = name.lower()
    popular = POPULAR_PYPI if ecosystem == "pypi" else POPULAR_NPM
    if low in popular or low in KNOWN_NEIGHBOURS:
        return None
    norm = re.sub(r"[-_.]+", "-", low)
    for target in popular:
        tnorm = re.sub(r"[-_.]+", "-", target)
        if norm == tnorm:
            return None
        if norm.translate(_HOMOGLYPH) == tnorm.translate(_HOMOGLYPH):
            return target
        if ecosystem == "pypi" and norm in (f"python3-{tnorm}", f"py3-{tnorm}",
                                            tnorm.replace("python-", "python3-")):
            return target
        limit = 2 if len(tnorm) >= 10 else 1
        if len(tnorm) >= 5 and abs(len(norm) - len(tnorm)) <= limit and \
                _distance(norm, tnorm) <= limit:
            return target
    return None


def _names(tf: TextFile) -> Iterator[tuple[str, str, int]]:
    """(name, ecosystem, line) of each dependency a file declares."""
    base = posixpath.basename(tf.path)
    if base == "package.json":
        try:
            doc = json.loads(tf.text)
        except ValueError:
            return
        for key in ("dependencies", "devDependencies", "optionalDependencies",
                    "peerDependencies", "bundledDependencies"):
            table = doc.get(key) if isinstance(doc, dict) else None
            for name in table if isinstance(table, dict) else ():
                at = tf.text.find(f'"{name}"')
                yield name, "npm", tf.line_of(at) if at >= 0 else 1
        return
    if base.endswith((".txt", ".in")):
        for number, line in enumerate(tf.text.split("\n"), start=1):
            match = _REQ_NAME.match(line)
            if match and not line.lstrip().startswith(("-", "#")):
                yield match.group(1), "pypi", number
        return
    if base == "setup.py":
        # Only the requirement lists of a setup() call; any other string of a Python file
        # (`url.startswith("http")`) names no package.
        depth = 0
        for number, line in enumerate(tf.text.split("\n"), start=1):
            start = re.search(r"\b(?:install_requires|setup_requires|tests_require|"
                              r"extras_require)\s*=", line)
            if not depth and start is None:
                continue
            part = line[start.end():] if start is not None and not depth else line
            for match in _QUOTED_REQ.finditer(part):
                yield match.group(1), "pypi", number
            depth += part.count("[") + part.count("{") - part.count("]") - part.count("}")
            depth = max(depth, 0)
        return
    if base in ("pyproject.toml", "setup.cfg", "Pipfile"):
        in_deps = False
        for number, line in enumerate(tf.text.split("\n"), start=1):
            if re.search(r"(?i)(dependencies|install_requires|requires|\[packages\]|"
                         r"\[dev-packages\])", line):
                in_deps = True
            elif re.match(r"^\s*\[", line) and "packages" not in line:
                in_deps = False
            if not in_deps:
                continue
            if base == "Pipfile":
                match = re.match(r"^\s*\"?([A-Za-z0-9][\w.-]*)\"?\s*=", line)
                if match:
                    yield match.group(1), "pypi", number
                continue
            for match in _QUOTED_REQ.finditer(line):
                yield match.group(1), "pypi", number


def _unsafe_index(url: str) -> str | None:
    parts = urlsplit(url.removeprefix("git+"))
    host = parts.hostname or ""
    if host in ("localhost", "127.0.0.1", "::1"):
        return None
    try:
        ipaddress.ip_address(host)
        return f"a raw IP address ({host})"
    except ValueError:
        pass
    if parts.scheme == "http":
        return f"plain HTTP ({host})"
    return None


def dependency_findings(tf: TextFile) -> list[Finding]:
    """SUP-03 findings on one dependency file."""
    out = []
    for match in _INDEX.finditer(tf.text):
        why = _unsafe_index(match.group(1))
        if why:
            line = tf.line_of(match.start())
            out.append(Finding("SUP-03", "insecure-package-index", "high", tf.path, line,
                               excerpt(tf.line_text(line)), "config",
                               f"installs packages from {why}"))
    for name, ecosystem, line in _names(tf):
        target = squatted(name, ecosystem)
        if target:
            out.append(Finding("SUP-03", "typosquat-dependency", "high", tf.path, line,
                               excerpt(tf.line_text(line)), "config",
                               f"{ecosystem} package {name!r} imitates {target!r}"))
    if posixpath.basename(tf.path) == "package.json":
        for match in re.finditer(r"\"[^\"]+\"\s*:\s*\"((?:https?|git\+https?)://[^\"]+)\"",
                                 tf.text):
            why = _unsafe_index(match.group(1))
            if why:
                line = tf.line_of(match.start())
                out.append(Finding("SUP-03", "insecure-package-index", "high", tf.path, line,
                                   excerpt(tf.line_text(line)), "config",
                                   f"a dependency is fetched from {why}"))
    return out


# Install commands in scripts and prose (`pip install reqeusts`, `npm i -g discord.jss`,
# `uv pip install --index-url http://IP/simple x`): the same squats and indexes as in a
# dependency file, installed by whoever follows the skill.
_INSTALL_CMD = re.compile(
    r"(?im)(?<![\w/.-])(?:(?:python[\d.]*|py)\s+-m\s+pip|pip[\d.]*|uv\s+pip|pipx|uv)\s+"
    r"(?P<py>install|add)\b(?P<pyargs>[^\n;|&`)\"']*)|"
    r"(?<![\w/.-])(?:npm|pnpm|yarn|bun)\s+(?:(?:global\s+)?add|i|install)\b(?P<jsargs>[^\n;|&`)\"']*)")
_VALUE_OPTIONS = {"-r", "--requirement", "-c", "--constraint", "-t", "--target", "--prefix",
                  "--root", "--python", "-p", "--trusted-host", "--cache-dir", "--src", "-e",
                  "--editable", "--platform", "--python-version", "--only-binary",
                  "--no-binary", "--save-prefix", "--tag", "--workspace", "-w", "--filter"}
_INDEX_OPTIONS = {"-i", "--index-url", "--extra-index-url", "--index", "--default-index",
                  "-f", "--find-links", "--registry"}
_NPM_SPEC = re.compile(r"^(@[\w.-]+/[\w.-]+|[\w.-]+)(?:@\S*)?$")
_PY_SPEC = re.compile(r"^([A-Za-z0-9][\w.-]*)(?:\[[^\]]*\])?(?:[<>=!~]=?\S*)?$")
INSTALL_ANCHORS = ("install", " add ", " i ", "config set", "index_url", "config_registry",
                   "default_index")


# The package managers' own settings pointed elsewhere: every later install uses them.
_CONFIG_INDEX = re.compile(
    r"(?im)\b(?:(?:npm|pnpm|yarn)\s+config\s+set\s+(?:--global\s+|-g\s+)?registry|"
    r"pip[\d.]*\s+config\s+(?:--\w+\s+)?set\s+(?:global|user|install)\.(?:extra-)?index-url|"
    r"\b(?:PIP_(?:EXTRA_)?INDEX_URL|UV_(?:EXTRA_)?INDEX_URL|UV_DEFAULT_INDEX|npm_config_registry|"
    r"NPM_CONFIG_REGISTRY)\s*=)[\s=]*[\"']?((?:https?)://[^\s\"']+)")


def install_command_findings(tf: TextFile) -> list[Finding]:
    """SUP-03 findings on the packages and indexes of install commands in any text file."""
    out: list[Finding] = []
    for match in _CONFIG_INDEX.finditer(tf.text):
        why = _unsafe_index(match.group(1))
        if why:
            line = tf.line_of(match.start())
            out.append(Finding("SUP-03", "insecure-package-index", "high", tf.path, line,
                               excerpt(tf.line_text(line)), "code",
                               f"points the package manager at {why} for every install"))
    for match in _INSTALL_CMD.finditer(tf.text):
        ecosystem = "pypi" if match.group("py") else "npm"
        words = (match.group("pyargs") or match.group("jsargs") or "").split()
        line = tf.line_of(match.start())
        skip = False
        for i, word in enumerate(words):
            if skip:
                skip = False
                continue
            option, _, value = word.partition("=")
            if option in _INDEX_OPTIONS:
                url = value or (words[i + 1] if i + 1 < len(words) else "")
                skip = not value
                why = _unsafe_index(url.strip("'\"")) if "://" in url else None
                if why:
                    out.append(Finding("SUP-03", "insecure-package-index", "high", tf.path,
                                       line, excerpt(tf.line_text(line)), "code",
                                       f"installs packages from {why}"))
                continue
            if word.startswith("-"):
                skip = option in _VALUE_OPTIONS and not value
                continue
            if word in ("-", "global") or "/" in word and not word.startswith("@") or \
                    word.startswith((".", "$", "~", "<", "{")):
                continue
            spec = (_PY_SPEC if ecosystem == "pypi" else _NPM_SPEC).match(word.strip("'\""))
            target = squatted(spec.group(1), ecosystem) if spec else None
            if target:
                out.append(Finding("SUP-03", "typosquat-dependency", "high", tf.path, line,
                                   excerpt(tf.line_text(line)), "code",
                                   f"installs {ecosystem} package {spec.group(1)!r}, which "
                                   f"imitates {target!r}"))
    return out


_INSTALL_KINDS = {"node": "npm", "npm": "npm", "pnpm": "npm", "bun": "npm", "uv": "pypi",
                  "pip": "pypi", "pipx": "pypi", "python": "pypi"}


def manifest_install_findings(specs: list[dict], skill_md: str) -> list[Finding]:
    """Typosquats among the packages a SKILL.md's `metadata.openclaw.install` specs install
    (OpenClaw's installer runs them when the user accepts the skill's requirements)."""
    out = []
    for spec in specs:
        url = spec.get("url")
        if str(spec.get("kind", "")).lower() == "download" and isinstance(url, str):
            # OpenClaw fetches it over http: or https: (dist/frontmatter-*.mjs
            # normalizeSafeDownloadUrl) and checks it only when the spec gives a sha256
            why = _unsafe_index(url.strip())
            pinned = isinstance(spec.get("sha256"), str) and \
                re.fullmatch(r"[a-fA-F0-9]{64}", spec["sha256"].strip()) is not None
            if why and not (pinned and why.startswith("plain HTTP")):
                at = skill_md.find(url)
                line = skill_md.count("\n", 0, at) + 1 if at >= 0 else 1
                out.append(Finding("SUP-03", "insecure-install-download", "high", "SKILL.md",
                                   line, excerpt(url), "frontmatter",
                                   f"metadata.openclaw.install downloads the program it "
                                   f"installs from {why}"
                                   f"{'' if pinned else ' with no sha256 to check it'}"))
        ecosystem = _INSTALL_KINDS.get(str(spec.get("kind", "")).lower())
        package = spec.get("package") or spec.get("module")
        if ecosystem is None or not isinstance(package, str):
            continue
        match = (_PY_SPEC if ecosystem == "pypi" else _NPM_SPEC).match(package.strip())
        target = squatted(match.group(1), ecosystem) if match else None
        if target:
            at = skill_md.find(package)
            line = skill_md.count("\n", 0, at) + 1 if at >= 0 else 1
            out.append(Finding("SUP-03", "typosquat-dependency", "high", "SKILL.md", line,
                               excerpt(package), "frontmatter",
                               f"metadata.openclaw.install installs {ecosystem} package "
                               f"{match.group(1)!r}, which imitates {target!r}"))
    return out
