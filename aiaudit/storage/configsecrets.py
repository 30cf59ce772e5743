"""STO-04 facts: literal secrets in a deployment's `.env`, `secrets.json`, config files and
the config tables of its databases (see `configtables.py`).

A value passes when it references a secret kept elsewhere (`${VAR}`, `*_FILE=/run/secrets/…`,
`op://`, `vault:`, AWS/GCP secret manager names); it fails when the file holds the secret
itself, found either by the secret rules or as a literal assigned to a secret-named key.
"""

from __future__ import annotations

import fnmatch
import hashlib
import posixpath
import re
import shlex
from dataclasses import dataclass, field
from typing import Any

from aiaudit.hostfs import HostFS
from aiaudit.products import openclaw
from aiaudit.redact import mask
from aiaudit.status import CouldNotCheck
from aiaudit.storage.headers import read_head
from aiaudit.storage.layouts import BY_APP, FILE_KINDS
from aiaudit.storage.secrets.engine import Finding, digest_of, scan_bytes, scan_text

CONFIG_LIMIT = 1024 * 1024
GENERIC_CONFIGS = (".env", "*.env", ".env.*", "secrets.json", "secrets.yaml", "config.json",
                   "config.yaml", "config.yml", "settings.json", "auth.json", "*.toml")
ASSIGNMENT = re.compile(
    r"""(?im)^[ \t]*(?:export[ \t]+)?["']?(?P<k>[A-Za-z0-9_.\-]*?(?:api[_\-]?key|apikey|token|"""
    r"""secret|password|passwd|credentials?|private[_\-]?key)s?)["']?[ \t]*[:=][ \t]*"""
    r"""["']?(?P<v>[^"'\s#,}\]]+)"""
)
REFERENCE = re.compile(
    r"(?i)^(?:\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|/run/secrets/|/var/run/secrets/|file:|env:|"
    r"op://|vault:|secretref|arn:aws:secretsmanager|projects/[^/]+/secrets/|sm://|"
    r"\{\{.*\}\}|<[^>]+>|!secret\b|null$|none$|true$|false$)"
)
REFERENCE_KEY = re.compile(r"(?i)(?:_file|_path|_env|_ref|_name|_id|_url|_command|_cmd)$")


@dataclass
class ConfigFacts:
    files: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)  # database tables/columns read
    unread: list[str] = field(default_factory=list)  # config files / stores not read
    keys: int = 0  # secret-named keys and assignments seen (literal or reference)
    looked_for: list[str] = field(default_factory=list)  # the file globs tried
    own_key_files: list[str] = field(default_factory=list)  # the app's generated key store


def literal_assignments(text: str, location: str) -> tuple[list[Finding], list[str]]:
    """Secret-named keys with literal values (findings) and with references (fine)."""
    findings, references = [], []
    for m in ASSIGNMENT.finditer(text):
        key, value = m.group("k"), m.group("v")
        if REFERENCE_KEY.search(key) or REFERENCE.match(value):
            references.append(f"{posixpath.basename(location)}: {key}")
            continue
        if len(value) < 8 or value.isdigit():
            continue  # e.g. max_tokens: 64
        raw = value.encode()
        findings.append(Finding("literal-secret-assignment", location, m.start("v"),
                                f"{key}={mask(value)}", len(raw),
                                hashlib.sha256(raw).hexdigest()[:12]))
    return findings, references


def config_globs(app: str) -> list[str]:
    globs = list(GENERIC_CONFIGS)
    layout = BY_APP.get(app)
    if layout:
        globs += [g for g in layout.config_files if g not in globs]
    return globs


def config_files(fs: HostFS, app: str, state_dir: str) -> list[str]:
    globs = config_globs(app)
    root = shlex.quote(state_dir.rstrip("/"))
    script = "; ".join(f"for f in {root}/{g}; do [ -f \"$f\" ] && printf '%s\\n' \"$f\"; done"
                       for g in globs)
    _, out, _ = fs.run(script + "; true", timeout=30)
    seen: list[str] = []
    for line in out.splitlines():
        path = posixpath.normpath(line)
        if line and path not in seen:
            seen.append(path)
    return seen


def _product_configs(fs: HostFS, app: str, state_dir: str,
                     hermes_managed: str | None = None) -> list[str]:
    """Config files the product loads from outside its state dir: OpenClaw's config where
    it recorded loading it (OPENCLAW_CONFIG_PATH) and the files it `$include`s; Hermes'
    managed scope (/etc/hermes/config.yaml and .env, loaded into every Hermes process of
    the host over the home's own); Open WebUI's `.webui_secret_key` where `serve` ran;
    Langflow's secret_key in ~/.cache/langflow when its store is in its pip package dir."""
    from aiaudit.products import hermes, open_webui, openclaw

    if app == "hermes":
        from aiaudit.access import check_access

        paths = hermes.managed_paths(hermes_managed)
        found = check_access(fs, paths)
        return [p for p in paths if p in found and not found[p].missing]
    if app == open_webui.APP:
        return open_webui_key_files(fs, state_dir, outside_only=True)
    if app != openclaw.APP:
        return _existing(fs, _pip_key_files(app, state_dir))
    cfg = openclaw.read_config(fs, state_dir)
    outside = [p for p in cfg.files if not p.startswith(state_dir.rstrip("/") + "/")]
    if outside and cfg.path == outside[0]:
        # every config write rotates <config>.bak, .bak.1 ... beside the config file
        # (openclaw.toml [files] config_backups), wherever OPENCLAW_CONFIG_PATH puts it
        q = shlex.quote(cfg.path)
        _, out, _ = fs.run(f"for f in {q}.bak {q}.bak.*; do [ -f \"$f\" ] && "
                           "printf '%s\\n' \"$f\"; done; true", timeout=30)
        outside += [line for line in out.splitlines() if line]
    return outside


def _own_key_files(app: str, state_dir: str) -> set[str]:
    from aiaudit.products.appstore import store_app

    product = store_app(app)
    if product is None:
        return set()
    return {posixpath.join(state_dir, name) for name in product.key_files()} | set(
        _pip_key_files(app, state_dir))


def _pip_key_files(app: str, state_dir: str) -> list[str]:
    """The app's own key files outside its pip package dir when that dir is the state dir
    (Langflow's ~/.cache/langflow/secret_key beside a store in site-packages/langflow)."""
    from aiaudit.products.appstore import store_app

    product = store_app(app)
    return product.pip_key_files(state_dir) if product is not None else []


def _existing(fs: HostFS, paths: list[str]) -> list[str]:
    """Those of paths that are files (one round trip)."""
    if not paths:
        return []
    words = " ".join(shlex.quote(p) for p in paths)
    _, out, _ = fs.run(f"for f in {words}; do [ -f \"$f\" ] && printf '%s\\n' \"$f\"; "
                       "done; true", timeout=30)
    return [line for line in out.splitlines() if line]


def open_webui_key_files(fs: HostFS, data_dir: str, outside_only: bool = False) -> list[str]:
    """The `.webui_secret_key` files `open-webui serve` wrote for this data dir that exist
    (its working directory: beside DATA_DIR, or beside and in the venv of a pip install)."""
    from aiaudit.products import open_webui

    prefix = data_dir.rstrip("/") + "/"
    return _existing(fs, [p for p in open_webui.secret_key_paths(data_dir)
                          if not (outside_only and p.startswith(prefix))])


def config_facts(ctx: Any, app: str, state_dir: str) -> ConfigFacts:
    from aiaudit.storage.pgread import is_pg_url

    if is_pg_url(state_dir):  # an app's PostgreSQL database: its config tables
        return _pg_config_facts(ctx, app, state_dir)
    fs = HostFS.for_context(ctx)
    facts = ConfigFacts()
    facts.looked_for = config_globs(app)
    own_keys = _own_key_files(app, state_dir)
    managed = None
    if app == "hermes":  # the managed dir the home's processes load (HERMES_MANAGED_DIR)
        from aiaudit.products import hermes

        managed = hermes.managed_dir_for(ctx, state_dir)[0]
    outside = _product_configs(fs, app, state_dir, managed)
    # the env file a unit's command line loads for this state dir (`langflow run
    # --env-file`): its settings are the app's environment (aiaudit.storage.locate)
    from aiaudit.storage.locate import locate, unit_env_files

    locate(ctx)
    outside += unit_env_files(ctx).get(state_dir, [])
    for path in dict.fromkeys(config_files(fs, app, state_dir) + outside):
        try:
            data = read_head(fs, path, CONFIG_LIMIT)
        except CouldNotCheck as exc:
            facts.unread.append(str(exc))
            continue
        facts.files.append(path)
        if path in own_keys:
            facts.own_key_files.append(path)
            continue
        _scan_config(app, state_dir, path, data, facts)
    _read_tables(ctx, app, state_dir, facts)
    _read_backups(ctx, app, state_dir, facts, set(outside),
                  {posixpath.basename(k) for k in own_keys})
    return facts


def _pg_config_facts(ctx: Any, app: str, dsn: str) -> ConfigFacts:
    """The config tables of an app's PostgreSQL database (Open WebUI's `config` rows and
    users' `api_key` kept in clear), read through SQL like a SQLite store's."""
    from aiaudit.storage.locate import locate
    from aiaudit.storage.pgstores import config_table_facts

    facts = ConfigFacts(looked_for=["config tables of the database"])
    store = next(s for s in locate(ctx)[0] if s.kind == "postgresql" and s.path == dsn)
    found = config_table_facts(ctx, store)
    facts.tables += found.tables
    facts.findings.extend(found.findings)
    facts.references.extend(found.references)
    return facts


def _scan_config(app: str, state_dir: str, path: str, data: bytes, facts: ConfigFacts) -> None:
    """One config file's literal secrets and references (a file on the target, or a copy
    of one inside a backup archive, named `archive!member`)."""
    found = scan_bytes(data, path)
    literal, refs = literal_assignments(data.decode("utf-8", "replace"), path)
    covered = {f.offset for f in found}
    found += [f for f in literal if not any(abs(f.offset - o) < 4 for o in covered)]
    facts.findings.extend(found)
    facts.references.extend(refs)
    facts.keys += len(literal) + len(refs)
    _json_document(path, data, facts, {f.digest for f in found})
    if app == openclaw.APP and _auth_profile_copy(path, state_dir):
        _openclaw_auth_profiles(path, data, facts)
    if app == "hermes" and posixpath.basename(path) in ("config.yaml", ".env"):
        _hermes_document(state_dir, path, data, facts, {f.digest for f in found})


def _auth_documents(conn: Any, relative: str, facts: ConfigFacts) -> list[tuple[str, Any]]:
    """OpenClaw's auth-profile stores in an open copy; a schema this version of the suite
    does not know is that store's unread part, not the loss of the store's other findings."""
    try:
        return openclaw.auth_profile_documents(conn)
    except Exception as exc:  # noqa: BLE001 - sqlite3/sqlcipher errors of an unknown schema
        facts.unread.append(f"{relative}: its auth-profile store could not be queried "
                            f"({type(exc).__name__}: the schema differs from OpenClaw "
                            "2026.9.6's)")
        return []


def _auth_profile_copy(path: str, state_dir: str) -> bool:
    """A legacy auth-profiles.json (or doctor's copy) in the state dir, or inside a backup
    archive (`archive!member`: the member's path is relative to the archive's root, so
    every tail of it is tried against the state-dir-relative globs)."""
    if "!" not in path:
        return openclaw.is_auth_profile_file(posixpath.relpath(path, state_dir))
    parts = path.split("!", 1)[1].strip("/").split("/")
    return any(openclaw.is_auth_profile_file("/".join(parts[i:])) for i in range(len(parts)))


def _openclaw_auth_profiles(path: str, data: bytes, facts: ConfigFacts) -> None:
    """A legacy auth-profiles.json (or doctor's copy of it) in OpenClaw's canonical shape:
    its `profiles.*.key` / `.token` literals are credentials though "key" alone names none
    (openclaw.toml [auth_profiles])."""
    try:
        doc = openclaw.loads(data.decode("utf-8", "replace"))
    except (ValueError, RecursionError):
        return
    _add_auth_literals(path, doc, facts)


def _add_auth_literals(where: str, doc: Any, facts: ConfigFacts) -> None:
    from aiaudit.storage.configtables import credential_finding

    seen = {f.digest for f in facts.findings}
    for key, value in openclaw.auth_profile_literals(doc):
        if scan_bytes(value.encode("utf-8", "replace"), where):
            continue  # a known key shape: the byte scan has it already
        finding = credential_finding(where, key, value)
        if finding.digest not in seen:
            facts.findings.append(finding)
            facts.keys += 1
            seen.add(finding.digest)


# Members of a backup archive that are never the deployment's own config, whatever their
# name: skills' and packages' files, hub caches, the workspace.
_NOT_CONFIG_DIRS = {"skills", "node_modules", ".git", ".hub", "workspace", "cache",
                    "sandboxes", "optional-skills"}
MAX_MEMBERS = 64  # config copies read per archive


def config_member(app: str) -> Any:
    """Whether an archive member is a copy of one of the app's config files: its path ends
    like one of the config globs (`.env`, `profiles/*/.env`, `agents/*/agent/auth.json`,
    ...; the catch-all `*.toml` only at the archive's top level)."""
    globs = config_globs(app)

    def want(name: str) -> bool:
        parts = [p for p in name.strip("/").split("/") if p not in ("", ".")]
        if not parts or _NOT_CONFIG_DIRS & set(parts[:-1]):
            return False
        for glob in globs:
            depth = glob.count("/") + 1
            if len(parts) < depth:
                continue
            if glob.startswith("*") and "/" not in glob and len(parts) > 1 and \
                    glob.endswith(".toml"):
                continue  # a catch-all: any package's pyproject would match
            if fnmatch.fnmatch("/".join(parts[-depth:]), glob):
                return True
        return False

    return want


def state_dir_archives(ctx: Any, app: str, state_dir: str) -> list[str]:
    """Backup files of this state dir's stores (`[storage] backup_dirs`, the framework's
    own default backup place, copies beside the store) and the backups left in the state
    dir itself: the ones that may be archives of the whole dir."""
    from aiaudit.storage.backups import find_backups, standalone_backups
    from aiaudit.storage.locate import locate

    stores, _ = locate(ctx)
    found: list[str] = []
    for store in stores:
        if store.state_dir == state_dir and store.kind in FILE_KINDS:
            found += [b.file.path for b in find_backups(ctx, store)[0]]
    found += [s.path for s in standalone_backups(ctx) if s.state_dir == state_dir]
    return list(dict.fromkeys(p for p in found if not p.endswith(("-wal", "-journal"))))


def _read_backups(ctx: Any, app: str, state_dir: str, facts: ConfigFacts,
                  outside: set[str], own_key_names: set[str]) -> None:
    """Config copies inside the state dir's backup archives (a `hermes backup` zip holds
    the home's .env and config.yaml, an `openclaw backup create` tar its openclaw.json):
    a literal key there is still a literal key at rest, after it left the live config.
    Each member is read up to CONFIG_LIMIT, the archive up to [storage] max_copy_mb."""
    from aiaudit.access import denied_line
    from aiaudit.storage.packed import PACK_ERRORS, contents, packing
    from aiaudit.storage.settings import settings_for
    from aiaudit.storage.sevenzip import EncryptedArchive

    fs = HostFS.for_context(ctx)
    limit = settings_for(ctx).max_copy_mb * 1024 * 1024
    named = config_member(app)

    def want(name: str) -> bool:
        # `openclaw backup create` keeps absolute paths (<root>/payload/posix/<path>): a
        # copy of another state's config in a shared backup dir is not this state's
        if "/payload/posix/" in name:
            source = "/" + name.split("/payload/posix/", 1)[1]
            if not source.startswith(state_dir.rstrip("/") + "/") and source not in outside:
                return False
        return named(name)

    for path in state_dir_archives(ctx, app, state_dir):
        try:
            if packing(read_head(fs, path, 512)) is None:
                continue  # a plain copy of a store (`state.db.bak`): no config inside
            with contents(fs, path, limit, want) as items:
                for n, item in enumerate(items):
                    if n >= MAX_MEMBERS:
                        break
                    data = item.stream.read(CONFIG_LIMIT)
                    facts.files.append(item.name)
                    if posixpath.basename(item.name) in own_key_names:
                        facts.own_key_files.append(item.name)  # the app's own key, copied
                        continue
                    _scan_config(app, state_dir, item.name, data, facts)
        except CouldNotCheck as exc:
            facts.unread.append(str(exc))
        except EncryptedArchive:
            continue  # an encrypted 7z, as a gpg or age file: no literal key at rest
        except PACK_ERRORS as exc:
            if isinstance(exc, OSError) and exc.strerror:
                facts.unread.append(denied_line(path, exc.strerror))
            else:
                facts.unread.append(f"{path}: cannot unpack: {exc}")


def _json_document(path: str, data: bytes, facts: ConfigFacts, seen: set[str]) -> None:
    """A JSON (or OpenClaw JSON5) config is walked key by key: one-line JSON has no
    `key = value` lines for the line rule to see."""
    if not (path.endswith((".json", ".json5")) or data.lstrip()[:1] in (b"{", b"[")):
        return
    from aiaudit.products.openclaw import loads
    from aiaudit.storage.configtables import TableFacts, document_secrets

    try:
        doc = loads(data.decode("utf-8", "replace"))
    except (ValueError, RecursionError):
        return
    found = TableFacts()
    document_secrets(path, doc, found, seen)
    facts.keys += len(found.findings) + len(found.references)
    facts.findings.extend(found.findings)
    known = set(facts.references)
    facts.references += [r for r in found.references if r not in known]


def _hermes_document(home: str, path: str, data: bytes, facts: ConfigFacts,
                     seen: set[str]) -> None:
    """Hermes' config.yaml through its one reader, key by key (nested MCP `env`, `headers`,
    `platforms.*.extra.key`, ...); `${VAR}` values are references Hermes expands."""
    from aiaudit.products import hermes
    from aiaudit.storage.configtables import TableFacts, credential_finding, document_secrets

    text = data.decode("utf-8", "replace")
    is_env = posixpath.basename(path) == ".env"
    if "!" in path:  # a copy inside a backup archive: its home is the member's dir there
        archive, member = path.split("!", 1)
        where = f"{archive}!{posixpath.dirname(member)}"
    else:
        where = posixpath.dirname(path) or home
    cfg = hermes.parse_config(where, None if is_env else text, text if is_env else None)
    found = TableFacts()
    if not is_env and not cfg.error and cfg.doc:
        document_secrets(path, cfg.doc, found, seen)
    for where, value in hermes.literal_credentials(cfg):
        if scan_bytes(value.encode("utf-8", "replace"), path):
            continue  # a known key shape: the file scan has it already
        finding = credential_finding(path, where.replace("!/", "!"), value)
        if finding.digest not in seen:
            found.findings.append(finding)
            seen.add(finding.digest)
    facts.keys += len(found.findings)
    facts.findings.extend(found.findings)
    known = set(facts.references)
    facts.references += [r for r in found.references if r not in known]


def _own_json_values(conn: Any) -> list[tuple[str, str]]:
    """OpenClaw's own generated values inside JSON columns (the exec approvals' socket
    token): the row is scanned, that one field is not a configured literal secret."""
    try:
        return openclaw.own_key_values(conn, columns=False)
    except Exception:  # noqa: BLE001 - a schema this suite does not know: nothing excluded
        return []


def _own_key_columns(app: str) -> tuple[str, ...]:
    """"table.column"s where the framework keeps its own generated key material (OpenClaw's
    device identity: openclaw.toml [history] own_keys), which no setting moves to a
    secrets manager: not a configured literal secret."""
    from aiaudit.products import openclaw

    if app != openclaw.APP:
        return ()
    return tuple(f"{t}.{c}" for t, cols in openclaw.own_key_columns().items() for c in cols)


def _plaintext_columns(store: Any) -> dict[str, tuple[str, ...]]:
    """{table: columns} the store's product keeps credentials in, in clear (its source)."""
    from aiaudit.products import open_webui

    if store.app == open_webui.APP and open_webui.is_db(store.path):
        return open_webui.plaintext_credential_columns()
    return {}


def _read_tables(ctx: Any, app: str, state_dir: str, facts: ConfigFacts) -> None:
    """Config tables of the SQLite stores in this state dir, read from the private copy.

    An encrypted store without a configured key cannot be read: that is recorded (and makes
    the control ERROR) only for stores an app is known to keep secrets in.
    """
    from aiaudit.products.appstore import owner_of, store_app
    from aiaudit.storage.configtables import plaintext_credentials, table_facts
    from aiaudit.storage.locate import locate
    from aiaudit.storage.snapshot import NeedsKey, opened_copy

    layout = BY_APP.get(app)
    secret_stores = layout.secret_stores if layout else ()
    stores, _ = locate(ctx)
    for store in stores:
        if store.kind != "sqlite" or store.state_dir != state_dir:
            continue
        relative = posixpath.relpath(store.path, state_dir)
        known = any(fnmatch.fnmatch(relative, g) for g in secret_stores)
        product = store_app(store.app)
        try:
            with opened_copy(ctx, store) as opened:
                if product is not None:  # by its schema: n8n's store is named like Flowise's
                    product = owner_of(store.path, opened.conn, store.app)
                mine = product is not None
                extra = product.config_tables() if mine and product else ()
                plain = product.not_secret_columns() if mine and product else ()
                from aiaudit.storage.sqlitefacts import user_tables

                present = set(user_tables(opened.conn, virtual=False))
                own = [c for c in _own_key_columns(store.app) if c.split(".")[0] in present]
                plain = (*plain, *own)
                found = table_facts(opened.conn, store.path, extra, plain)
                columns = _plaintext_columns(store)
                if columns:
                    plaintext_credentials(opened.conn, store.path, columns, found)
                auth = _auth_documents(opened.conn, relative, facts) \
                    if store.app == openclaw.APP else []
                generated = _own_json_values(opened.conn) if store.app == openclaw.APP \
                    else []
        except NeedsKey:
            if known:
                facts.unread.append(f"{relative} is encrypted and {app} keeps provider keys "
                                    "in it; give its key ([[storage.keys]] or "
                                    "[storage] key_file)")
            continue
        except CouldNotCheck as exc:
            if known:
                facts.unread.append(f"{relative}: {exc}")
            continue
        facts.tables += [f"{relative}#{t}" for t in found.tables]
        mine_digests = {f.digest for _, value in generated for f in scan_text(value)} | \
            {digest_of(value) for _, value in generated}
        facts.findings.extend(f for f in found.findings if f.digest not in mine_digests)
        facts.references += [f"{relative}#{where}: {app}'s own generated token (by design, "
                             "no setting moves it)" for where, _ in generated]
        for label, doc in auth:  # OpenClaw's auth-profile store: "key" names no secret
            facts.tables.append(f"{relative}#{label} (auth profiles)")
            _add_auth_literals(f"{store.path}#{label}", doc, facts)
        facts.references.extend(found.references)
        facts.references += [f"{relative}#{c}: {app}'s own device identity (by design, no "
                             "setting moves it)" for c in own]
