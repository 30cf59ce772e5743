"""MCP tool, prompt and resource descriptions as the servers themselves list them.

Two sources besides bundle manifests: captured snapshots (`[supply_chain] mcp_snapshots`:
the JSON results of `tools/list`, `prompts/list`, `resources/list` as the protocol returns
them) and remote servers asked over streamable HTTP or SSE with the official `mcp` SDK. A
remote listing sends `initialize`, the `initialized` notification and the three list calls,
nothing else (no tool call, no session DELETE), under a time limit; tools are what an agent
reads, so each description is one entry (`add`, `add.sidenote` for a parameter,
`prompt:explain`, `resource:NAME`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from typing import Any

MAX_ENTRIES = 2_000
LIST_TIMEOUT_SECONDS = 10.0
LIST_METHODS = ("initialize", "notifications/initialized", "tools/list", "prompts/list",
                "resources/list")  # the only requests a remote listing sends


def _schema_texts(props: Any, prefix: str, depth: int = 0) -> list[tuple[str, str]]:
    """(TOOL.PARAM, text) of every parameter: the model reads the whole schema, so a title,
    an enum value, a default or an example can carry orders as a description can (nested
    objects and array items too, three levels)."""
    out: list[tuple[str, str]] = []
    for param, spec in (props.items() if isinstance(props, dict) and depth < 3 else ()):
        if not isinstance(spec, dict):
            continue
        if isinstance(spec.get("description"), str) and spec["description"]:
            out.append((f"{prefix}.{param}", spec["description"]))
        parts = [spec.get("title"), spec.get("default"), spec.get("const")]
        for key in ("enum", "examples"):
            values = spec.get(key)
            parts += values if isinstance(values, list) else []
        extra = "\n".join(p for p in parts if isinstance(p, str) and p.strip())
        if extra:  # a key of its own: a baseline taken before keeps its description digests
            out.append((f"{prefix}.{param}#schema", extra))
        items = spec.get("items")
        for inner in (spec, items if isinstance(items, dict) else {}):
            out += _schema_texts(inner.get("properties"), f"{prefix}.{param}", depth + 1)
    return out


def _texts(value: Any) -> str:
    return "\n".join(v for v in (value if isinstance(value, list) else [value])
                     if isinstance(v, str) and v.strip())


def _tool_extras(item: dict[str, Any], name: str) -> dict[str, str]:
    """What else of a tool the model reads: `annotations` (title and hints), the input
    schema's own title/description and the whole `outputSchema` (keys `NAME#annotations`,
    `NAME#input`, `NAME#out`, `NAME#out.FIELD`)."""
    out: dict[str, str] = {}
    ann = item.get("annotations")
    if isinstance(ann, dict) and _texts(list(ann.values())):
        out[f"{name}#annotations"] = _texts(list(ann.values()))
    for key, suffix in (("inputSchema", "#input"), ("outputSchema", "#out")):
        schema = item.get(key)
        if not isinstance(schema, dict):
            continue
        if _texts(schema.get("description")):  # titles are the SDKs' generated names
            out[f"{name}{suffix}"] = _texts(schema.get("description"))
        found = _schema_texts(schema.get("properties"), f"{name}#out") if suffix == "#out" \
            else []
        defs = schema.get("$defs") or schema.get("definitions")  # models behind "$ref"
        for model, spec in list(defs.items())[:50] if isinstance(defs, dict) else []:
            if isinstance(spec, dict):
                if _texts(spec.get("description")):
                    out[f"{name}{suffix}.{model}"] = _texts(spec.get("description"))
                found += _schema_texts(spec.get("properties"), f"{name}{suffix}.{model}")
        # a bare generated title ("Result") says nothing: keys only for texts with words
        out |= {k: t for k, t in found if not k.endswith("#schema") or " " in t.strip()}
    return out


def descriptions(listing: dict[str, Any]) -> dict[str, str]:
    """{"tool:NAME": description, "tool:NAME.PARAM": ..., "prompt:...", "resource:..."} from
    the results of the list calls (keys `tools`, `prompts`, `resources`)."""
    out: dict[str, str] = {}
    if isinstance(listing.get("instructions"), str) and listing["instructions"].strip():
        out["instructions"] = listing["instructions"]  # initialize's: the client's system prompt
    for kind, key in (("tool", "tools"), ("prompt", "prompts"), ("resource", "resources")):
        items = listing.get(key)
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                continue
            name = item["name"]
            text = item.get("description")
            title = item.get("title")
            key_of = name if kind == "tool" else f"{kind}:{name}"  # tools as manifests name them
            out[key_of] = "\n".join(str(t) for t in (title, text) if t)
            schema = item.get("inputSchema") if kind == "tool" else None
            props = schema.get("properties") if isinstance(schema, dict) else None
            for param, text in _schema_texts(props, name):
                out[param] = text
            if kind == "tool":
                out |= _tool_extras(item, name)
            for arg in item.get("arguments") or [] if kind == "prompt" else []:
                if isinstance(arg, dict) and arg.get("description"):
                    out[f"prompt:{name}.{arg.get('name')}"] = str(arg["description"])
            if len(out) >= MAX_ENTRIES:
                return out
    return out


def parse_snapshot(text: str) -> tuple[str | None, dict[str, str]]:
    """(server name if the snapshot names one, descriptions) of a snapshot file: an object
    with `tools`/`prompts`/`resources` lists, JSON-RPC responses carrying them in `result`
    (one or a list), or `{"server": NAME, "tools/list": RESULT, ...}`. ValueError if none."""
    doc = json.loads(text)
    docs = doc if isinstance(doc, list) else [doc]
    name = doc.get("server") if isinstance(doc, dict) else None
    merged: dict[str, Any] = {}
    for part in docs:
        if not isinstance(part, dict):
            continue
        for candidate in (part, part.get("result"), part.get("initialize"),
                          part.get("tools/list"), part.get("prompts/list"),
                          part.get("resources/list")):
            if isinstance(candidate, dict):
                if isinstance(candidate.get("instructions"), str):
                    merged["instructions"] = candidate["instructions"]
                for key in ("tools", "prompts", "resources"):
                    if isinstance(candidate.get(key), list):
                        merged.setdefault(key, []).extend(candidate[key])
    if not merged:
        raise ValueError("no tools, prompts or resources list in the snapshot")
    return (str(name) if name else None), descriptions(merged)


async def _list(url: str, transport: str, headers: dict[str, str]) -> dict[str, Any]:
    import httpx2
    from mcp.client.session import ClientSession
    from mcp.client.sse import sse_client
    from mcp.client.streamable_http import streamable_http_client

    listing: dict[str, Any] = {}

    async def run(read: Any, write: Any) -> None:
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            caps = init.capabilities
            if init.instructions:
                listing["instructions"] = init.instructions
            calls = (("tools", session.list_tools, caps.tools),
                     ("prompts", session.list_prompts, caps.prompts),
                     ("resources", session.list_resources, caps.resources))
            for key, call, offered in calls:
                if offered is not None:
                    result = await call()
                    listing[key] = result.model_dump(mode="json", by_alias=True,
                                                     exclude_none=True).get(key, [])

    if transport == "stdio":
        from mcp.client.stdio import StdioServerParameters, stdio_client

        params = StdioServerParameters(command=headers["__command__"],
                                       args=json.loads(headers["__args__"]), env={})
        with open(os.devnull, "w") as quiet:
            async with stdio_client(params, errlog=quiet) as (read, write):
                await run(read, write)
        return listing
    if transport == "sse":
        async with sse_client(url, headers=headers or None, timeout=LIST_TIMEOUT_SECONDS,
                              sse_read_timeout=LIST_TIMEOUT_SECONDS) as (read, write):
            await run(read, write)
    else:
        client = httpx2.AsyncClient(headers=headers or None,
                                    timeout=httpx2.Timeout(LIST_TIMEOUT_SECONDS))
        async with client, streamable_http_client(url, http_client=client,
                                                  terminate_on_close=False) as (read, write):
            await run(read, write)
    return listing


def list_remote(url: str, transport: str = "http", headers: dict[str, str] | None = None,
                timeout: float = LIST_TIMEOUT_SECONDS) -> dict[str, str]:
    """Descriptions a remote MCP server lists (RuntimeError with the reason on failure)."""
    return descriptions(fetch_listing(url, transport, headers, timeout))


def fetch_listing(url: str, transport: str = "http", headers: dict[str, str] | None = None,
                  timeout: float = LIST_TIMEOUT_SECONDS) -> dict[str, Any]:
    """The list results as the protocol returns them: {"tools": [...], "prompts": [...],
    "resources": [...]} (what a snapshot holds)."""
    import anyio

    async def bounded() -> dict[str, Any]:
        with anyio.fail_after(timeout):
            return await _list(url, transport, headers or {})

    try:
        return anyio.run(bounded)
    except TimeoutError:
        raise RuntimeError(f"{url}: no listing within {timeout:.0f} s") from None
    except Exception as exc:  # noqa: BLE001 - a server's failure is a finding's reason
        cause = exc
        while isinstance(cause, BaseExceptionGroup) and cause.exceptions:
            cause = cause.exceptions[0]
        raise RuntimeError(f"{url}: {type(cause).__name__}: {cause}") from None


SANDBOX_ARGS = ("--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
                "--unshare-all", "--die-with-parent", "--new-session", "--clearenv",
                "--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin", "--setenv", "HOME", "/tmp")


def sandboxed_command(command: str, args: list[str]) -> list[str]:
    """A stdio server's launch inside bubblewrap: read-only root, private /tmp, no network
    (all namespaces unshared), no environment (a configured env may hold secrets), dies with
    the auditor. ValueError when bwrap is missing."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise ValueError("bwrap (bubblewrap) is not installed: stdio servers are not started")
    return [bwrap, *SANDBOX_ARGS, "--", command, *args]


def list_stdio(command: str, args: list[str], timeout: float = LIST_TIMEOUT_SECONDS
               ) -> dict[str, str]:
    """Descriptions a stdio MCP server lists when started in the sandbox; the SDK's client
    terminates the server (and its process group) when the listing ends or times out."""
    argv = sandboxed_command(command, args)
    return descriptions(fetch_listing("stdio:" + command, "stdio",
                                      {"__command__": argv[0],
                                       "__args__": json.dumps(argv[1:])}, timeout))


# Tool poisoning: what a description tells the agent to do. Interim rules until the shared
# agent-addressed-prose judge lands; the existing hidden-instruction review runs as well.
_POISON = (
    ("tool-prerequisite-read", re.compile(
        r"(?is)\bbefore (?:using|calling|invoking|running) (?:this|the|any) tool\b.{0,120}?"
        r"\b(?:read|open|cat|load|fetch|look up|collect)\b")),
    ("tool-secret-in-parameter", re.compile(
        r"(?is)(?:~/\.ssh|id_rsa|\.env\b|mcp\.json|\.aws/credentials|credentials|api[_ ]?keys?|"
        r"config(?:uration)? files?|private key).{0,160}?\b(?:pass|put|include|send|add|"
        r"provide)\b.{0,80}?\b(?:as|in|into|via)\b.{0,40}?(?:parameter|argument|field|"
        r"['\"]\w+['\"])")),
    ("tool-precedence", re.compile(
        r"(?i)\b(?:takes?|has|have) (?:precedence|priority) over\b|\binstead of (?:any|every|"
        r"all|the) other tools?\b|\bwhen(?:ever)? (?:any|another|an?) other tool\b|"
        r"\b(?:ignore|override|replace)s? (?:the )?(?:other|previous) (?:tools?|instructions)\b")),
    ("tool-shadowing", re.compile(
        r"(?i)\b(?:supersedes?|replaces?|overrides?|shadows?|takes? over)\s+(?:the\s+)?"
        r"(?:`?[\w.-]+`?\s+)?(?:tools?|functions?)\s+(?:of|from|in|provided by|offered by)\s+"
        r"(?:every|any|all|other|another|the other)\b|"
        r"\b(?:other|another|every|any) (?:mcp )?servers?'s? (?:`?[\w.-]+`? )?tools?\b.{0,80}?"
        r"\b(?:instead|never|do not|don't)\b|"
        r"\balways\s+(?:add|include|copy|cc|bcc|forward)\b[^.\n]{0,80}?[\w.+-]+@[\w-]+\.[\w.]+")),
    ("hide-from-user", re.compile(
        r"(?i)\b(?:do not|don't|never|without) (?:tell(?:ing)?|mention(?:ing)?|inform(?:ing)?|"
        r"show(?:ing)?|notify(?:ing)?|alert(?:ing)?)\b.{0,30}\buser\b")),
)


# A parameter's description is itself the sink: "this must be the output of printenv" sends
# the environment as the argument, with no verb of sending.
_PARAM_PRIVATE = re.compile(
    r"(?i)~/\.|\$HOME/\.|\.ssh/|\bid_(?:rsa|ed25519|ecdsa)\b|\.aws/credentials|(?<![\w-])\.env\b|"
    r"\.npmrc\b|\.netrc\b|\bprintenv\b|\b(?:mcp|openclaw|claude_desktop_config)\.json\b|"
    r"\b(?:all|every|entire|complete|whole|full)\s+(?:of\s+the\s+)?(?:environment|env vars?|"
    r"conversation|chat history|message history|system prompt)\b|\b(?:conversation|chat) history\b|"
    r"\bsystem prompt\b|\bprivate key\b")
_PARAM_VALUE = re.compile(
    r"(?i)\b(?:must|should|shall|needs? to|has to)\s+(?:be|contain|include|hold|carry)\b|"
    r"\b(?:output|contents?|value|text|copy) of\b|\b(?:paste|fill|put|insert|place)\b|"
    r"\b(?:set (?:this|it) to|pass)\b")
_NEVER_VALUE = re.compile(r"(?i)\b(?:never|not|no|without)\b[^.]{0,30}\b(?:its |their |the )?"
                          r"(?:value|contents?)\b")


def _param_private(text: str, label: str) -> re.Match[str] | None:
    """A parameter description (label `tool:NAME.PARAM`) asking for private data as the value."""
    if "." not in label.split(":", 1)[-1]:
        return None
    source = _PARAM_PRIVATE.search(text)
    if source is None or not _PARAM_VALUE.search(text) or _NEVER_VALUE.search(text):
        return None
    return source


def _protects_secret(text: str, at: int) -> bool:
    """Whether the sentence around `at` only keeps a secret from being shown."""
    from aiaudit.supply_chain.prose import _PROTECTS_SECRET

    start = max(text.rfind(".", 0, at), text.rfind("\n", 0, at)) + 1
    ends = [i for i in (text.find(".", at), text.find("\n", at)) if i >= 0]
    return bool(_PROTECTS_SECRET.search(text[start:min(ends) if ends else len(text)]))


def judge_description(text: str, label: str) -> list[Any]:
    """Findings on one MCP description, read as instructions to the agent (SUP-07)."""
    from aiaudit.supply_chain.findings import Finding, excerpt
    from aiaudit.supply_chain.honesty import review_text
    from aiaudit.supply_chain.review import _prose_threats
    from aiaudit.supply_chain.textctx import TextFile

    found = list(review_text(text, label))
    private = _param_private(text, label)
    if private is not None:
        found.append(Finding("SUP-07", "parameter-private-value", "high", label, 1,
                             excerpt(" ".join(text.split())), "mcp-description",
                             f"the parameter asks for {private.group(0)} as its value "
                             "(tool poisoning)"))
    found += _prose_threats(TextFile(label, "markdown", text))
    for rule, pattern in _POISON:
        match = pattern.search(text)
        if match and rule == "hide-from-user" and _protects_secret(text, match.start()):
            continue  # "never show the API key to the user" hides no action
        if match:
            line = text.count("\n", 0, match.start()) + 1
            found.append(Finding("SUP-07", rule, "high", label, line,
                                 excerpt(" ".join(match.group(0).split())), "mcp-description",
                                 "the description instructs the agent (tool poisoning)"))
    return found
