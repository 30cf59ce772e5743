"""SUP-03 detection rules: the attack techniques seen in skill registries, as data.

Line rules are regular expressions run over whole files (every file, whole length: a
payload after 100,000 newlines is still found). Signal rules only mark a file as doing
something (reading the environment, talking to the network); compound rules in
`review.py` combine signals, so that a skill that reads one declared API key and calls
its API is not an "exfiltration", while one that serialises the whole environment and
posts it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aiaudit import secretshapes

ALL = None  # a rule for every text file
# Languages whose lines execute ("text" covers scripts without a known extension).
EXECUTABLE_LANGS = ("python", "js", "shell", "powershell", "code", "text")


@dataclass(frozen=True)
class Rule:
    name: str
    severity: str
    pattern: re.Pattern[str]
    langs: frozenset[str] | None
    what: str
    anchors: tuple[str, ...] = ()  # lower-case literals; the regex runs only if one occurs


def _rule(name: str, severity: str, regex: str, what: str,
          langs: tuple[str, ...] | None = ALL, flags: int = re.I,
          anchors: tuple[str, ...] = ()) -> Rule:
    return Rule(name, severity, re.compile(regex, flags | re.M),
                frozenset(langs) if langs else None, what, anchors)


_SH = (r"(?:sudo\s+)?(?:-?\w+=\S*\s+)*(?:(?:/usr)?(?:/bin/)?(?:ba|z|da|k|fi)?sh\b|"
       r"\$\(SHELL\)|\$\{SHELL\}|\$SHELL\b)")  # make's and the login shell's variable
_DL = r"\b(?:curl|wget|fetch|iwr|invoke-webrequest)\b"
# An interpreter that runs its piped stdin: not one whose program is its own -c/-e/-m argument
# (`curl api | python3 -m json.tool`, `| python3 -c "json.load(sys.stdin)..."` read data),
# unless that argument runs what it reads.
_STDIN_INTERP = (r"(?:sudo\s+)?(?:python3?|perl|ruby|node|php)\b(?!\s+-[A-Za-z]*[cem]\b(?![^\n]*"
                 r"\b(?:exec|eval|compile|Function|system|popen|spawn|subprocess|child_process|"
                 r"runpy|importlib)\b))")
_B64 = r"[A-Za-z0-9+/]{16,}={0,2}"

PASTE_HOSTS = (
    r"pastebin\.com", r"paste\.ee", r"hastebin\.\w+", r"ghostbin\.\w+", r"rentry\.(?:co|org)",
    r"glot\.io", r"dpaste\.\w+", r"termbin\.com", r"transfer\.sh", r"file\.io", r"0x0\.st",
    r"paste\.rs", r"pastes\.dev", r"controlc\.com", r"privatebin\.\w+",
)
PASTE_TUNNEL_HOSTS = (
    *PASTE_HOSTS, r"webhook\.site", r"requestbin\.\w+", r"[\w-]+\.pipedream\.net",
    r"[\w-]+\.ngrok(?:-free)?\.(?:io|app|dev)",
    r"[\w-]+\.trycloudflare\.com", r"serveo\.net", r"[\w-]+\.loca\.lt", r"bore\.pub",
    r"[\w-]+\.pinggy\.(?:io|link)", r"[\w-]+\.serveo\.net", r"interact\.sh", r"[\w-]+\.oast\.\w+",
    r"burpcollaborator\.net", r"discord(?:app)?\.com/api/webhooks", r"api\.telegram\.org/bot",
)
KNOWN_INSTALLERS = re.compile(
    r"(?i)https://(?:deno\.land/install|sh\.rustup\.rs|get\.docker\.com|bun\.sh/install|"
    r"astral\.sh/uv|raw\.githubusercontent\.com/Homebrew/install|install\.python-poetry\.org|"
    r"get\.pnpm\.io|ollama\.com/install\.sh|openclaw\.ai/install)")

_DL_ANCHORS = ("curl", "wget", "fetch", "iwr", "invoke-webrequest")
_MINER_ANCHORS = ("xmrig", "stratum+", "donate-level", "miner", "t-rex", "supportxmr", "minexmr",
                  "moneroocean", "nanopool", "c3pool", "hashvault", "2miners", "f2pool")
MEMORY_FILE_ANCHORS = tuple(f"{n}.md" for n in ("soul", "memory", "agents", "claude", "heartbeat",
                                                 "identity", "user", "tools", "bootstrap"))
HOST_ANCHORS = ("pastebin", "paste.", "hastebin", "ghostbin", "rentry", "glot.io", "dpaste",
                 "termbin", "transfer.sh", "file.io", "0x0.st", "webhook.site", "requestbin",
                 "pipedream", "ngrok", "trycloudflare", "serveo", "loca.lt", "bore.pub", "pinggy",
                 "interact.sh", "oast.", "burpcollaborator", "discord", "telegram", "pastes.dev",
                 "controlc", "privatebin")

SHELLCODE = (r"(?s)(?:\bPROT_EXEC\b|\bVirtualAlloc(?:Ex)?\b|PAGE_EXECUTE_READWRITE).{0,900}?"
             r"(?:\b(?:C|WIN|PY)FUNCTYPE\s*\([^)]*\)\s*\(|\bCreate(?:Remote)?Thread\b|"
             r"\bEnumSystemLocales|\bcast\s*\([^)]*(?:C|WIN)FUNCTYPE)")

# Where a command starts: a line, after an operator or keyword, or as a string run by code
# (`echo "never run rm -rf ~"` names a command, it does not run it).
_CMD_AT = (r"(?:^[ \t]*|[;&|(`{]\s*|\b(?:then|do|else|sudo|xargs|nohup)\s+|"
           r"(?<![\w\s])[\"']\s*)")

LINE_RULES: tuple[Rule, ...] = (
    # download and execute
    _rule("download-exec", "critical", rf"{_DL}[^\n|;&]*\|\s*(?:{_SH}|{_STDIN_INTERP})",
          "downloads a script and pipes it into a shell or interpreter",
          anchors=_DL_ANCHORS),
    _rule("download-exec", "critical",
          rf"(?:ba|z)?sh\s+<\(\s*{_DL}|(?:ba|z)?sh\s+-c\s+[\"']?\$\(\s*{_DL}|\bsource\s+<\(\s*{_DL}|\.\s+<\(\s*{_DL}|"
          rf"\b(?:python3?|perl|ruby|node|php)\s+-[ce]\s+[\"']?\$\(\s*{_DL}|\beval\s+[\"']?\$\(\s*{_DL}",
          "runs the output of a download in a shell",
          anchors=_DL_ANCHORS),
    _rule("download-exec", "critical",
          rf"{_DL}[^\n]*\s(?:-o|-O|--output)\s*\S+[^\n]*(?:&&|;)\s*(?:chmod\s+[+0-7]*x|\./|"
          r"(?:ba)?sh\s|nohup\s)", "downloads a file and runs it on the same line",
          anchors=_DL_ANCHORS),
    _rule("download-exec", "critical",
          r"(?:iwr|invoke-webrequest|invoke-restmethod|irm|downloadstring)\b[^\n]*\|\s*(?:iex|"
          r"invoke-expression)\b|\b(?:iex|invoke-expression)\s*\(?\s*(?:\(\s*)?(?:new-object\s+"
          r"(?:system\.)?net\.webclient|iwr|irm|invoke-webrequest|invoke-restmethod|"
          r"\$[\w:]+\.downloadstring)",
          "PowerShell download piped into Invoke-Expression",
          anchors=("iwr", "invoke-", "irm", "downloadstring", "iex")),
    _rule("download-exec", "critical",
          r"(?s)\b(?:certutil(?:\.exe)?\s[^\n]*-urlcache\b|bitsadmin(?:\.exe)?\s[^\n]*/transfer\b)"
          r"[^\n]*?([\w%~.:\\/-]+\.(?:exe|bat|cmd|ps1|vbs|scr|msi|dll))\b.{0,400}?"
          r"(?:\bstart\b|\bcall\b|\brundll32\b|\bmsiexec\b|\bcmd(?:\.exe)?\s+/c\b|"
          r"\bpowershell\b)",
          "downloads a program with certutil or bitsadmin and runs it",
          ("shell", "powershell", "text", "markdown", "code"), anchors=("certutil", "bitsadmin")),
    # decode and execute
    _rule("decode-exec", "critical",
          r"\bbase64\s+(?:-d|--decode|-D)\b[^\n|]*\|\s*(?:sudo\s+)?(?:ba|z|da|k)?sh\b|"
          r"\|\s*base64\s+(?:-d|--decode|-D)\s*\|\s*(?:sudo\s+)?(?:ba|z|da|k)?sh\b|"
          r"\b(?:openssl\s+(?:base64|enc)\s[^\n|]*-d|xxd\s+-r|base32\s+(?:-d|--decode)|"
          r"basenc\s[^\n|]*(?:-d|--decode))[^\n|]*\|\s*(?:sudo\s+)?(?:ba|z|da|k)?sh\b",
          "decodes an encoded blob and pipes it into a shell",
          anchors=("base64", "openssl", "xxd", "base32", "basenc")),
    _rule("decode-exec", "critical",
          r"\b(?:exec|eval)\s*\(\s*(?:compile\s*\(\s*)?(?:base64\.\w*decode|codecs\.decode|"
          r"zlib\.decompress|bz2\.decompress|lzma\.decompress|marshal\.loads|bytes\.fromhex|"
          r"binascii\.\w+|__import__\s*\(\s*['\"](?:base64|zlib|codecs|marshal)['\"]\s*\))",
          "executes decoded or decompressed bytes", ("python", "text", "markdown"),
          anchors=("b64decode", "codecs", "decompress", "marshal", "fromhex", "binascii",
                   "__import__")),
    _rule("decode-exec", "critical",
          r"\b(?:c?pickle|_pickle|dill|cloudpickle|joblib)\.loads?\s*\(\s*(?:base64\.\w*decode|"
          r"codecs\.decode|zlib\.decompress|bz2\.decompress|lzma\.decompress|bytes\.fromhex|"
          r"binascii\.\w+|b['\"]|io\.BytesIO\s*\(\s*(?:base64|zlib|b['\"]))",
          "unpickles an embedded blob: unpickling calls whatever the blob names",
          ("python", "text", "markdown"), anchors=("pickle", "dill", "joblib")),
    _rule("decode-exec", "critical",
          r"\beval\s*\(\s*(?:atob|unescape|decodeURIComponent|String\.fromCharCode|"
          r"Buffer\.from\s*\([^)]*['\"](?:base64|hex)['\"])|\b(?:new\s+)?Function\s*\(\s*(?:atob|"
          r"Buffer\.from\s*\([^)]*['\"](?:base64|hex)['\"])",
          "evaluates decoded JavaScript", ("js", "text", "markdown"),
          anchors=("atob", "unescape", "decodeuri", "fromcharcode", "base64", "hex")),
    # text reversed, rot13'd by tr or spelled in printf escapes, then run by a shell
    _rule("decode-exec", "critical",
          rf"\|\s*rev\s*\|\s*{_SH}|\|\s*tr\s+['\"]?(?:A-Za-z|a-zA-Z|\[:\w+:\])['\"]?\s+['\"]?[A-Za-z]"
          rf"[^|\n]*\|\s*{_SH}|\beval\s+[\"']?\$\(\s*printf\s+['\"]?%b|"
          rf"\bprintf\s+['\"][^'\"\n]*\\(?:x[0-9a-fA-F]{{2}}|[0-7]{{3}})[^'\"\n]*['\"]\s*\|\s*{_SH}",
          "decodes reversed, rot13'd or escaped text and runs it in a shell",
          ("shell", "text", "markdown", "code"), anchors=("rev", "tr ", "printf")),
    # PowerShell: downloaded text run through a script block or a command held in a variable
    _rule("download-exec", "critical",
          r"(?s)\b(?:iwr|irm|invoke-webrequest|invoke-restmethod|downloadstring)\b.{0,400}?"
          r"\[scriptblock\]::create\s*\(|&\s*\$\w+\s*\(?\s*\(\s*new-object\s+(?:system\.)?"
          r"net\.webclient\s*\)\s*\.\s*downloadstring\b",
          "runs downloaded PowerShell through [ScriptBlock]::Create or a command variable",
          ("powershell", "text", "markdown"), anchors=("scriptblock", "downloadstring")),
    _rule("decode-exec", "critical",
          r"(?s)FromBase64String\s*\(.{0,600}?(?:\biex\b|\bInvoke-Expression\b)\s*\(?\s*\$",
          "decodes Base64 and runs the text with Invoke-Expression a few lines on",
          ("powershell", "text"), anchors=("frombase64string",)),
    _rule("decode-exec", "critical",
          r"-e(?:nc(?:odedcommand)?)?(?:\s+|['\"]?\s*,\s*)['\"]?[A-Za-z0-9+/]{40,}={0,2}|"
          r"frombase64string\([^\n]*\biex\b",
          "runs a Base64-encoded PowerShell command", ("powershell", "shell", "text", "markdown"),
          anchors=("-e", "frombase64string")),
    # wiping the user's home or the root filesystem
    _rule("destructive-wipe", "critical",
          rf"{_CMD_AT}rm[ \t]+(?:-[\w-]+[ \t]+){{0,6}}-[a-zA-Z]*[rR][a-zA-Z]*[ \t]+"
          r"(?:-[\w-]+[ \t]+){0,6}[\"']?(?:~|"
          r"\$HOME|\$\{HOME\})/?\*?[\"']?(?=[\s;&|`)]|$)|"
          rf"{_CMD_AT}rm[ \t]+(?:-[\w-]+[ \t]+){{0,6}}-[a-zA-Z]*[rR][a-zA-Z]*[ \t]+"
          r"(?:-[\w-]+[ \t]+){0,6}/\*?(?=[\s;&|'\"`)]|$)|"
          r"\bshutil\.rmtree\s*\(\s*(?:os\.path\.expanduser"
          r"\s*\(\s*['\"]~['\"]\s*\)|Path\.home\s*\(\s*\)|['\"]/['\"])\s*[,)]|\bfs\.(?:rmSync|rm)\s*"
          r"\(\s*os\.homedir\s*\(\s*\)\s*,",
          "deletes the user's home directory or the root filesystem",
          anchors=("rm ", "rmtree", "rmsync", "fs.rm")),
    _rule("clipboard-hijack", "critical",
          r"(?s)(?:pyperclip\.paste|clipboard\.read(?:Text)?|\bpbpaste\b|xclip\s+-o|xsel\s+-o|"
          r"Get-Clipboard|GetClipboardData).{0,600}?(?:pyperclip\.copy|clipboard\.write(?:Text)?|"
          r"\bpbcopy\b|xclip\b|Set-Clipboard|SetClipboardData)\s*\(?\s*[\"'](?:bc1[a-z0-9]{20,}|"
          r"0x[0-9a-fA-F]{40}|[13][1-9A-HJ-NP-Za-km-z]{25,34}|T[1-9A-HJ-NP-Za-km-z]{33})[\"']",
          "swaps a wallet address on the clipboard for one of its own (clipper)",
          ("python", "js", "powershell", "shell", "text"),
          anchors=("clipboard", "pyperclip", "pbpaste", "xclip", "xsel")),
    # machine code from a byte string mapped executable and called (shellcode loader)
    _rule("shellcode-exec", "critical", SHELLCODE,
          "maps bytes as executable memory and calls them (a shellcode loader)",
          ("python", "powershell", "text"),
          anchors=("prot_exec", "virtualalloc", "page_execute", "0x40")),
    # fetched code evaluated in-process
    _rule("remote-code-eval", "critical",
          r"\b(?:exec|eval)\s*\(\s*(?:requests\.get|urlopen|urllib\.request\.urlopen|"
          r"httpx\.get)\s*\(", "executes code fetched from the network", ("python", "text"),
          anchors=("requests.get", "urlopen", "httpx.get")),
    _rule("remote-code-eval", "critical",
          r"\b(?:eval|(?:new\s+)?Function)\s*\(\s*(?:await\s+)?\(?\s*(?:await\s+)?(?:fetch|axios|got)"
          r"\b|\.then\s*\(\s*(?:eval|Function)\s*\)",
          "evaluates JavaScript fetched from the network", ("js", "text"),
          anchors=("fetch", "axios", "got", "then(")),
    # reverse shells
    _rule("reverse-shell", "critical",
          r"\b(?:ba|z)?sh\s+-i\s*[>&]+\s*/dev/(?:tcp|udp)/|/dev/(?:tcp|udp)/[\w.$-]+/\d+|"
          r"\bnc(?:at)?\b[^\n]*\s-[a-z]*[ec]\s+/?(?:bin/)?(?:ba)?sh|mkfifo[^\n]*\|\s*(?:/bin/)?"
          r"(?:ba)?sh[^\n]*\bnc\b|\bsocat\b[^\n]*\bexec:|\bfsockopen\s*\(|"
          r"\bnew-object\s+system\.net\.sockets\.tcpclient",
          "opens a reverse shell to a remote host",
          anchors=("/dev/tcp", "/dev/udp", "nc ", "ncat", "mkfifo", "socat", "fsockopen",
                   "tcpclient")),
    # miners
    _rule("crypto-miner", "critical",
          r"\bxmrig\b|stratum\+(?:tcp|ssl|tls)://|--donate-level\b|\b(?:cpuminer|minerd|nbminer|"
          r"lolminer|t-rex|phoenixminer)\b|\b(?:supportxmr|minexmr|moneroocean|nanopool|c3pool|"
          r"hashvault|2miners|f2pool)\.(?:com|org|net|stream|pro)",
          "runs a cryptocurrency miner",
          anchors=_MINER_ANCHORS),
    _rule("crypto-miner", "high", r"\b4[0-9AB][1-9A-HJ-NP-Za-km-z]{93}\b",
          "contains a Monero wallet address", flags=0),
    # persistence
    _rule("persistence-cron", "high",
          r"\|\s*crontab\s+-\s*$|\|\s*crontab\s+-(?:\s|$)|\bcrontab\s+[\w./~-]+\.(?:txt|cron)\b|"
          r"/etc/cron\.(?:d|daily|hourly|weekly|monthly)/|/var/spool/cron|^[ \t]*@reboot\s|"
          r"[\"']crontab[\"']\s*,\s*[\"']-[\"']|[\"']crontab\s+-[\"']",
          "installs a cron job",
          anchors=("crontab", "/etc/cron", "/var/spool/cron", "@reboot")),
    # the agents' own schedulers (openclaw dist/cron-cli-*.mjs `cron add`,
    # hermes_cli/subcommands/cron.py `cron create`), where a shell runs them: Hermes' own
    # skills show the command in docstrings and CLI references
    _rule("persistence-scheduler", "high",
          r"^[ \t]*(?:sudo\s+)?(?:openclaw|clawdbot)\s+cron\s+add\b|"
          r"^[ \t]*(?:sudo\s+)?hermes\s+cron\s+create\b",
          "schedules a job in the agent's own scheduler", ("shell", "powershell", "text"),
          anchors=("cron add", "cron create")),
    _rule("credential-helper-exfil", "high",
          r"credential\.helper[\"'\s=]+[\"']?![^\n]*\b(?:curl|wget|nc|ncat|http|fetch|"
          r"Invoke-WebRequest|iwr)\b",
          "makes git hand every credential it stores to a shell helper that sends it away",
          anchors=("credential.helper",)),
    _rule("persistence-shell-rc", "high",
          r"(?:>>?|\btee\s+-a|open\s*\([^\n]*['\"][aw]\+?['\"]|appendFile\w*|writeFile\w*|"
          r"write_text|\.write\s*\()[^\n]*(?:\.(?:bashrc|zshrc|profile|bash_profile|zprofile|"
          r"bash_login|zshenv|zlogin|xprofile|xsessionrc)\b|\.config/fish/(?:config\.fish|"
          r"conf\.d/))|\.(?:bashrc|zshrc|bash_profile|zprofile|zshenv)\b[^\n]*"
          r"(?:open\s*\([^\n]*['\"][aw]|['\"],\s*['\"]a['\"])",
          "writes to a shell start-up file",
          anchors=("bashrc", "zshrc", "profile", "bash_login", "zshenv", "zlogin",
                   "xsessionrc", "fish/")),
    _rule("persistence-service", "high",
          r"/etc/systemd/system/[\w@.-]+\.(?:service|timer)|\.config/systemd/user/|"
          r"\bsystemctl\s+(?:--user\s+)?enable\b|Library/Launch(?:Agents|Daemons)|"
          r"\blaunchctl\s+(?:load|bootstrap)\b|/etc/rc\.local|/etc/init\.d/|/etc/profile\.d/|"
          # the same paths and commands as joined parts or an argument list
          r"[\"']Library[\"']\s*[,/]\s*[\"']Launch(?:Agents|Daemons)[\"']|[\"']\.config[\"']\s*[,/]\s*[\"']systemd"
          r"[\"']\s*[,/]\s*[\"']user[\"']|[\"']systemctl[\"']\s*,\s*(?:[\"']--user[\"']\s*,\s*)?"
          r"[\"']enable[\"']|[\"']launchctl[\"']\s*,\s*[\"'](?:load|bootstrap)[\"']",
          "installs a service or login item",
          anchors=("systemd", "systemctl", "launch", "rc.local", "init.d", "profile.d")),
    _rule("persistence-autostart", "high",
          r"\.config/autostart/[\w.-]*|\bXDG_CONFIG_HOME\b[^\n]*autostart|"
          r"\.git/hooks/(?:pre|post)-[\w-]+|\bcore\.hooksPath\b|hooksPath\s*=|"
          r"[\"']\.config[\"']\s*[,/]\s*[\"']autostart[\"']|[\"']\.git[\"']\s*[,/]\s*[\"']hooks[\"']|"
          r"(?:HKCU|HKLM|HKEY_CURRENT_USER|HKEY_LOCAL_MACHINE):?\\+Software\\+Microsoft\\+"
          r"Windows\\+CurrentVersion\\+Run|"
          r"\bschtasks\s+/create\b|\bRegister-ScheduledTask\b|Start Menu\\+Programs\\+Startup|"
          r"\bmake\s+(?:new\s+)?login\s+item\b|\bcom\.apple\.loginitems\b",
          "installs an autostart entry, git hook or scheduled task",
          anchors=("autostart", "hooks", "hookspath", "currentversion", "schtasks",
                   "register-scheduledtask", "startup", "login item", "loginitems")),
    _rule("agent-safety-off", "high",
          r"\bautoAllowSkills[\"']?\s*[:=]\s*true\b|\bsandbox\.mode\b[\"'\s]*(?:=|\s)\s*"
          r"[\"']?off\b|[\"']?sandbox[\"']?\s*:\s*\{[^}\n]*[\"']?mode[\"']?\s*:\s*[\"']off|"
          r"\belevated\b[\"'\]}\s.]*(?:enabled)?[\"']?\s*[:=]\s*true\b|"
          r"tools\.elevated\.enabled\s+true|--dangerously-skip-permissions\b|"
          r"[\"']?defaultMode[\"']?\]?\s*[:=]\s*[\"']bypassPermissions|"
          r"\bskipDangerousModePermissionPrompt[\"']?\]?\s*[:=]\s*(?:true|True)\b|"
          r"\ballow[\"']?\]?\s*[:=]\s*\[[^\]\n]*[\"']Bash(?:\(\s*\*\s*\))?[\"']|"
          r"\bapproval_policy\s*=\s*[\"']never[\"']|\bsandbox_mode\s*=\s*[\"']danger-full-access|"
          r"--dangerously-bypass-approvals-and-sandbox|\b--yolo\b|\bHERMES_YOLO_MODE\b|"
          r"\bapprovals\.mode\b[\"'\s]*(?:=|\s)\s*[\"']?off\b|"
          r"\bexec-approvals\.json\b[^\n]*(?:>|write|dump)|"
          r"[\"']?(?:security|ask)[\"']?\s*[:=]\s*[\"'](?:full|off)[\"']|"
          r"[\"'](?:approvals|sandbox)[\"']\s*(?:\]|,\s*\{\s*\}\s*\))[^\n=]{0,40}\[\s*[\"']mode"
          r"[\"']\s*\]\s*=(?!=)\s*[\"']off[\"']|[\"']approvals[\"']\s*:\s*\{\s*[\"']mode[\"']\s*:\s*"
          r"[\"']off[\"']|[\"']elevated[\"']\s*(?:\]|,\s*\{\s*\}\s*\))[^\n=]{0,40}\[\s*[\"']enabled"
          r"[\"']\s*\]\s*=(?!=)\s*(?:True|true)\b",
          "switches off the agent's own approvals or sandbox, or enables elevated tools",
          anchors=("autoallowskills", "sandbox", "elevated", "dangerously", "bypasspermissions",
                   "skipdangerous", "bash",
                   "approval_policy", "yolo", "exec-approvals", "security", "ask",
                   "approvals.mode", "approvals")),
    _rule("upload-credential-file", "high",
          r"\b(?:curl|wget|http|xh)\b[^\n]*(?:-d|--data(?:-binary|-raw|-urlencode)?|-F|--form|"
          r"--upload-file|-T|--post-file|--body-file)[\s=]*[^\n]*?@?[\"']?(?:~|\$HOME|\$\{HOME\})?/?"
          r"[^\s\"']*(?:\.ssh/|\.aws/credentials|\.env\b|id_rsa|id_ed25519|\.npmrc|\.netrc|"
          r"\.git-credentials|\.kube/config|Login Data|wallet\.dat|\.(?:clawdbot|openclaw)/|"
          r"\.(?:bash|zsh)_history\b|\.gnupg/)|"
          r"\b(?:cat|base64|tar|zip|gzip|xxd)\b[^\n|;]*(?:\.ssh/|(?:~|\$HOME)/\.(?:ssh|aws|gnupg)\b|\.aws/credentials|~/\.env\b|"
          r"\$HOME/\.env\b|id_rsa|id_ed25519|\.npmrc|\.netrc|\.git-credentials|\.kube/config|"
          r"\.(?:clawdbot|openclaw)/\.env)[^\n]*\|\s*(?:curl|wget|nc|ncat|socat|openssl\s+s_client|"
          r"ssh)\b",
          "uploads a credential file (one command line: read and send)",
          anchors=("curl", "wget", "http", "xh", "cat", "base64", "tar", "zip", "gzip", "xxd")),
    _rule("git-push-exfil", "high",
          r"\bgit\s+(?:-[Cc]\s+(?:\"[^\"\n]*\"|'[^'\n]*'|\S+)\s+)*push\s+(?:-\S+\s+)*"
          r"(?:https?://|git@|ssh://)\S+",
          "pushes the repository straight to a URL (not a remote the user set up)",
          anchors=("push",)),
    _rule("persistence-agent-memory", "high",
          r"(?:>>?|\btee\b|open\s*\([^\n]*['\"][aw]\+?['\"]|appendFile\w*|writeFile\w*|"
          r"write_text|\.write\s*\()[^\n]*\b(?:SOUL|MEMORY|AGENTS|CLAUDE|HEARTBEAT|IDENTITY|USER|"
          r"TOOLS|BOOTSTRAP)\.md\b|\b(?:SOUL|MEMORY|IDENTITY|HEARTBEAT)\.md\b[^\n]*(?:open\s*\([^\n]*"
          r"['\"][aw]|['\"],\s*['\"]a['\"])",
          "rewrites the agent's own instruction or memory files", EXECUTABLE_LANGS,
          anchors=MEMORY_FILE_ANCHORS),
    _rule("ssh-key-implant", "high",
          r"(?:>>?|\btee\b|appendFile\w*|writeFile\w*|open\s*\([^\n]*['\"][aw])[^\n]*"
          r"authorized_keys|authorized_keys[^\n]*(?:open\s*\([^\n]*['\"][aw]|['\"],\s*['\"]a['\"])|"
          r"\bssh-copy-id\b", "adds an SSH key to authorized_keys",
          anchors=("authorized_keys", "ssh-copy-id")),
    _rule("sudoers-edit", "high", r"/etc/sudoers|\bNOPASSWD\s*:\s*ALL\b|\bvisudo\b",
          "changes sudo rights",
          anchors=("sudoers", "nopasswd", "visudo")),
    _rule("git-mirror-exfil", "high", r"\bgit\s+push\b[^\n]*--mirror\b|"
          r"\bgit\s+push\b[^\n]*--all\b[^\n]*https?://",
          "mirrors repositories to a remote (bulk source exfiltration)",
          anchors=("push",)),
    # hosts
    _rule("suspicious-host", "high",
          r"(?:https?://|\b)(?:" + "|".join(PASTE_TUNNEL_HOSTS) + r")\b",
          "talks to a paste site, tunnel or request catcher",
          anchors=HOST_ANCHORS),
    _rule("raw-ip-url", "high", r"\b(?:https?|ftp|tcp|wss?)://(\d{1,3}(?:\.\d{1,3}){3})\b",
          "talks to a raw IP address instead of a named host",
          anchors=("://",)),
    # secrets
    # the stand-alone shapes of aiaudit/data/secrets.toml (shared with redaction and STO-03)
    _rule("hardcoded-secret", "high", secretshapes.skill_regex(),
          "holds a hard-coded credential", flags=0, anchors=secretshapes.skill_literals()),
    _rule("hardcoded-secret", "high",
          r"\b[\w-]*(?:api[_-]?key|secret|token|passw(?:or)?d|private[_-]?key)[\w-]*['\"]?\s*[:=]\s*"
          r"['\"]([^'\"\s$<>{}]{16,})['\"]", "assigns a literal secret",
          anchors=("key", "secret", "token", "passw")),
)

# Signals: what a file does, combined into findings by review.py. (regex, anchors)
_SIGNAL_SPECS: dict[str, tuple[str, tuple[str, ...]]] = {
    "env-harvest": (
        r"\bos\.environ\.(?:items|keys|values)\s*\(|\bdict\s*\(\s*os\.environ\s*\)|"
        r"\bstr\s*\(\s*os\.environ\s*\)|\bjson\.dumps\s*\(\s*(?:dict\s*\()?os\.environ|"
        r"\bfor\s+\w+(?:\s*,\s*\w+)?\s+in\s+os\.environ\b|\bos\.environb\b|"
        r"JSON\.stringify\s*\(\s*process\.env\s*[,)]|Object\.(?:entries|keys|values)\s*"
        r"\(\s*process\.env\s*\)|\bin\s+process\.env\b|/proc/(?:self|\d+|\$\w+|\*)/environ|"
        r"^[ \t]*(?:printenv|env)[ \t]*(?:\||>)|\$\(\s*(?:printenv|env)\s*\)|"
        r"`\s*(?:printenv|env)\s*`|\bexport\s+-p\s*\|",
        ("environ", "process.env", "printenv", "env", "export -p")),
    "credential-path": (
        r"~?/?\.ssh/(?:id_\w+|authorized_keys|config)\b|\bid_(?:rsa|ed25519|ecdsa)\b|"
        r"\.aws/credentials|\.config/gcloud|\.azure/|\.kube/config|\.docker/config\.json|"
        r"\.npmrc\b|\.pypirc\b|\.netrc\b|\.git-credentials|\.(?:clawdbot|openclaw|hermes)/\.env|"
        r"(?:^|[\s/'\"`(])\.env(?:\.local)?\b(?!\.example)|Login Data|key4\.db|logins\.json|"
        r"cookies\.sqlite|Local State|wallet\.dat|\.openclaw/openclaw\.json|auth-profiles\.json|"
        r"\.claude\.json|\.cursor/mcp\.json|claude_desktop_config\.json|\.config/gh/hosts|"
        r"\.(?:bash|zsh)_history\b|[\"']\.(?:ssh|aws|gnupg|kube|docker)[\"']|"
        # `tar -C "$HOME" .aws`, `tar -C ~ .ssh .kube`: the home given as the directory
        r"\s-C\s*[\"']?(?:~|\$HOME|\$\{HOME\})/?[\"']?(?:\s+[^\s|;&>]+)*?\s+\.(?:ssh|aws|gnupg|kube|"
        r"docker)\b|(?:\$HOME|\$\{HOME\}|~)"
        r"/\.(?:ssh|aws|gnupg)\b(?!/known_hosts)|\.electrum|\bExodus\b|\.bitcoin/|MetaMask|"
        r"nkbihfbeogaeaoehlefnkodbefgpgknn|solana/id\.json|\.ethereum/keystore|\.gnupg/|"
        r"/etc/shadow|keychain-db|\bseed phrase|\bkubectl\s+config\s+view\b[^\n]*--raw\b|"
        r"\bgh\s+auth\s+token\b|\bgcloud\s+auth\s+print-(?:access|identity)-token\b|"
        r"\baz\s+account\s+get-access-token\b|\baws\s+configure\s+export-credentials\b|\bsecurity\s+(?:find-(?:generic|internet)-password|"
        r"dump-keychain)\b|\bdisplay dialog\b[^\n]{0,200}\bhidden answer\b",
        (".ssh", "id_rsa", "id_ed25519", "id_ecdsa", ".aws", "gcloud", ".azure", ".kube",
         ".docker", ".npmrc", ".pypirc", ".netrc", ".git-credentials", ".env", "login data",
         "key4.db", "logins.json", "cookies.sqlite", "local state", "wallet.dat", ".electrum",
         "exodus", ".bitcoin", "metamask", "nkbihfbeogaeaoehlefnkodbefgpgknn", "solana",
         "keystore", ".gnupg", "/etc/shadow", "keychain", "seed phrase", "openclaw.json",
         "auth-profiles", ".claude.json", "mcp.json", "claude_desktop_config", "gh/hosts",
         "_history", "find-generic-password", "find-internet-password", "dump-keychain",
         "hidden answer", "kubectl", "auth token", "print-access", "print-identity",
         "get-access-token", "export-credentials")),
    "network": (
        r"\brequests\.(?:get|post|put|patch|request)\s*\(|\bhttpx\.\w+\s*\(|\burlopen\s*\(|"
        r"\burllib\.request\b|\bhttp\.client\b|\baiohttp\b|\bsocket\.(?:socket|"
        r"create_connection)\s*\(|\bsmtplib\b|\bftplib\b|\bfetch\s*\(|\baxios\b|"
        r"\bhttps?\.(?:request|get)\s*\(|XMLHttpRequest|\bnet\.(?:connect|Socket|"
        r"createConnection)\b|\bnew\s+WebSocket\b|\bgot\s*\(|"
        # a Node client module used where it is required (what folding writes out)
        r"\brequire\(\s*['\"](?:node:)?(?:https?|net|tls|dgram|http2)['\"]\s*\)\s*\.\s*"
        r"(?:request|get|connect|createConnection|createSocket)\s*\(|"
        # Go, Ruby, Rust, Java/.NET clients
        r"\bhttp\.(?:Post|PostForm|Head|NewRequest\w*)\s*\(|\bnet\.(?:Dial\w*|Lookup\w+)\s*\(|"
        r"\bNet::HTTP\b|\bURI\.open\b|\bopen-uri\b|\bHTTParty\b|\bFaraday\b|"
        r"\b(?:TCPSocket|UDPSocket)\.(?:new|open)\b|\b(?:TcpStream|UdpSocket)::(?:connect|bind)\b|"
        r"\breqwest::|\bureq::|\bHttpClient\b|\bopenConnection\s*\(|"
        # PHP, Perl, Lua, Swift, Kotlin, .NET, C (libcurl) clients
        r"\bcurl_(?:init|exec)\s*\(|\bfsockopen\s*\(|\bsocket\s*\(\s*\w+\s*,\s*PF_INET\b|"
        r"\bnet\.Dial\w*\s*\(|\bstream_socket_client\s*\(|"
        r"\bfile_get_contents\s*\(\s*['\"]https?://|\bGuzzleHttp\\|\bHTTP::Tiny\b|"
        r"\bLWP::(?:UserAgent|Simple)\b|\bIO::Socket::(?:INET6?|IP|SSL)\b|\bNet::(?:HTTP|SMTP|"
        r"FTP)\b|\bsocket\.http\b|\bURLSession\b|\bOkHttpClient\b|\bWebRequest\.Create\b|"
        r"\bcurl_easy_perform\s*\(|"
        # a package install from an index the command names: it downloads from that host
        r"\s(?:--(?:extra-)?index-url|--registry|-i)[\s=]+[\"']?https?://|"
        r"\bcertutil(?:\.exe)?\s[^\n]*-urlcache\b|\bbitsadmin(?:\.exe)?\s[^\n]*/transfer\b|"
        r"^[ \t]*[@+-]*(?:[^#\n]*\s)?(?:curl|wget|nc|ncat|scp|ftp)\s|/dev/tcp/|"
        r"(?:\$\(|`)\s*(?:curl|wget)\s|"
        r"\b(?:run|call|check_call|check_output|Popen|system|popen|exec|execSync|spawn|"
        r"getoutput|getstatusoutput)\s*\(\s*[\"'`]\s*(?:curl|wget)\s|"
        r"\b(?:iwr|irm)\s+[\"']?https?://|"
        r"Invoke-(?:WebRequest|RestMethod)|Net\.WebClient|"
        r"(?:^[ \t]*(?:sudo\s+)?|[|;&]\s*|\$\(\s*|\[\s*[\"']|\b(?:do|then|else)\s+)"
        r"(?:nslookup|dig|host|rsync|"
        r"rclone|sftp|ssh|aws\s+s3|gsutil|azcopy|sendmail|mail|mutt|swaks|socat|telnet)"
        r"[\"']?[\s,]+(?![=+*/%<>!-]?=|[(.:\[])\S|\bgethostbyname\w*\s*\(|\bgetaddrinfo\s*\(|"
        r"\bdns\.(?:resolve\w*|lookup|promises)\b|\bdns\.resolver\b|\bboto3\b|"
        r"\bparamiko\b|\bWebClient\b|\bdiscord\.(?:Webhook|Client)\b|\bslack_sdk\b|"
        r"\b(?:import|from)\s+telegram\b|\btelegram\.(?:Bot|ext)\b|api\.telegram\.org|"
        r"node-telegram-bot-api|\btelegraf\b",
        ("requests.", "httpx", "urlopen", "urllib", "http.client", "aiohttp", "socket", "smtplib",
         "ftplib", "fetch", "axios", "http", "xmlhttprequest", "net.", "websocket", "got(",
         "iwr", "irm",
         "curl", "wget", "nc", "scp", "ftp", "/dev/tcp", "invoke-", "webclient", "nslookup",
         "dig", "host", "rsync", "rclone", "ssh", "aws", "gsutil", "azcopy", "mail", "mutt",
         "swaks", "socat", "telnet", "gethostbyname", "getaddrinfo", "dns.", "boto3", "paramiko",
         "discord", "slack_sdk", "telegram", "uri.open", "open-uri", "faraday", "tcpsocket",
         "udpsocket", "tcpstream", "reqwest", "ureq", "openconnection", "certutil", "bitsadmin",
         "curl_", "fsockopen", "pf_inet", "net.dial", "stream_socket_client",
         "file_get_contents", "guzzlehttp",
         "http::tiny", "lwp::", "io::socket", "net::", "socket.http", "urlsession",
         "okhttpclient", "webrequest.create", "index-url", "--registry", "-i ")),
    "dynamic-eval": (
        r"(?<![\w.])(?:exec|eval)\s*\(\s*(?!['\"])|\bnew\s+Function\s*\(|\bvm\.run\w*\s*\(|"
        r"\bcompile\s*\([^)]*['\"]exec['\"]|\bimportlib\.import_module\s*\(\s*(?!['\"])",
        ("exec", "eval", "function", "vm.run", "compile", "import_module")),
    "download-to-file": (
        r"\b(?:curl|wget)\b[^\n]*\s(?:-o|-O|--output)\s*\S|\burlretrieve\s*\(|"
        r"\.write(?:_bytes)?\s*\(\s*(?:requests\.get|r\.content|resp\.content|"
        r"response\.content)|createWriteStream\s*\(",
        ("curl", "wget", "urlretrieve", ".write", "createwritestream")),
    "chmod-exec": (
        r"\bchmod\s+(?:[0-7]*[157]\b|\+?[ugoa]*\+x)|\bos\.chmod\s*\([^)]*0o?7|"
        r"fs\.chmod\w*\s*\([^)]*0o?7|\bsubprocess\.\w+\s*\(\s*\[?\s*['\"]\./|"
        r"\bos\.(?:system|exec\w*|spawn\w*)\s*\(\s*['\"]\./|^[ \t]*(?:nohup\s+)?\./[\w.-]+",
        ("chmod", "subprocess", "os.system", "os.exec", "os.spawn", "./")),
    "socket-connect": (
        r"\bsocket\.socket\s*\(|\.connect\s*\(\s*\(|\bnet\.(?:connect|Socket|createConnection)\b|"
        # Go, Perl, Ruby, Rust, PHP
        r"\bnet\.Dial(?:Timeout)?\s*\(\s*\"(?:tcp|udp)|\bsocket\s*\(\s*\w+\s*,\s*PF_INET\b|"
        r"\bIO::Socket::INET\b|\bTCPSocket\.(?:new|open)\b|\bTcpStream::connect\b|"
        r"\bfsockopen\s*\(",
        ("socket", ".connect", "net.", "pf_inet", "io::socket", "tcpsocket", "tcpstream",
         "fsockopen")),
    "shell-attach": (
        r"\bos\.dup2\s*\(|\bpty\.spawn\s*\(|stdin\s*=\s*s\b|"
        r"spawn\s*\(\s*['\"](?:/bin/)?(?:ba)?sh['\"]|\.pipe\s*\(\s*\w+\.stdin\)|"
        # Go cmd.Stdin = conn, Perl open(STDIN, ">&S"), exec("/bin/sh -i"), PHP proc_open sh
        r"\.Stdin\s*(?:,[^=\n]*)?=\s*(?:conn\w*|c|sock\w*|s|tcp\w*|remote)\b|\bopen\s*\(\s*STDIN\s*,\s*['\"]?[<>]&|"
        r"\bexec\s*\(?\s*['\"](?:/bin/)?(?:ba)?sh\s+-i\b|"
        r"\bproc_open\s*\(\s*['\"](?:/bin/)?(?:ba)?sh\b",
        ("dup2", "pty.spawn", "stdin", "spawn", ".pipe", "sh -i", "proc_open")),
    "keylogger": (
        r"\bkeyboard\.Listener\b|\bfrom\s+pynput\b[^\n]*\bkeyboard\b|\bGetAsyncKeyState\b|"
        r"\bSetWindowsHookEx\w*\s*\(\s*WH_KEYBOARD|\buiohook\b|node-global-key-listener|"
        r"\bkeyboard\.on_press\b|\bCGEventTapCreate\b",
        ("keyboard", "getasynckeystate", "setwindowshookex", "uiohook", "key-listener",
         "cgeventtapcreate")),
    "file-write": (
        r"\bopen\s*\([^\n]*['\"][aw]\+?b?['\"]|>>|\.write_text\s*\(|\bappendFile\w*\b|"
        r"\bwriteFile\w*\b|\btee\s",
        ("open", ">>", "write", "appendfile", "tee ")),
    "git-remote-add": (
        r"\bgit\s+remote\s+(?:add|set-url)\s+(?:-\S+\s+)*[\w.-]+\s+[\"']?(?:https?://|git@|"
        r"ssh://)[\w.@:-]+[/:][\w.-]+|[\"']remote[\"']\s*,\s*[\"'](?:add|set-url)[\"']\s*,\s*"
        r"[\"'][\w.-]+[\"']\s*,\s*(?:[\"'](?:https?://|git@|ssh://)|[A-Z][A-Z0-9_]{2,}\b)",
        ("remote",)),
    "git-push": (r"\bgit\s+push\b|\[\s*['\"]git['\"]\s*,\s*['\"]push['\"]|"
                 r"\(\s*['\"]push['\"]\s*,\s*['\"][\w.-]+['\"]", ("push",)),
    "time-gate": (
        r"\.hour\b|\bgetHours\s*\(|\btm_hour\b|\bdate\s+\+%H\b|\bgetUTCHours\s*\(",
        (".hour", "gethours", "tm_hour", "date +%h", "getutchours")),
}
SIGNALS: dict[str, Rule] = {
    name: Rule(name, "info", re.compile(rx, re.I | re.M), None, name, anchors)
    for name, (rx, anchors) in _SIGNAL_SPECS.items()
}

# Files whose modification is persistence, and the rule that names it (with a write op).
PERSISTENCE_TARGETS = {
    "ssh-key-implant": re.compile(r"\bauthorized_keys\b"),
    "persistence-shell-rc": re.compile(r"\.(?:bashrc|zshrc|bash_profile|zprofile|zshenv|zlogin|"
                                       r"xprofile|xsessionrc)\b|\.config/fish/(?:config\.fish|"
                                       r"conf\.d/)"),
    # the agent's or an MCP client's own config, written with hooks or servers in it: the
    # harness runs those commands on its events or at every start (see PERSISTENCE_REQUIRES)
    "persistence-agent-hooks": re.compile(
        r"\.claude/settings(?:\.local)?\.json\b|\.cursor/mcp\.json\b|claude_desktop_config\.json|"
        r"\.codeium/windsurf/mcp_config\.json|\.gemini/settings\.json|\.codex/config\.toml|"
        r"\.config/Code/User/(?:mcp|settings)\.json|"
        r"[\"']\.claude[\"']\s*[,/]\s*[\"']settings(?:\.local)?\.json[\"']|"
        r"[\"']\.cursor[\"']\s*[,/]\s*[\"']mcp\.json[\"']"),
    "persistence-agent-memory": re.compile(
        r"\b(?:SOUL|MEMORY|IDENTITY|HEARTBEAT)\.md\b|\.(?:openclaw|hermes|claude)\b[^\n]{0,60}"
        r"\b(?:AGENTS|CLAUDE|TOOLS|USER|BOOTSTRAP)\.md\b"),
}

# What else a file must hold for a persistence target's write to count (a status line
# written to ~/.claude/settings.json is a preference; a hook or a server is code it runs).
PERSISTENCE_REQUIRES = {
    "persistence-agent-hooks": re.compile(r"[\"'](?:hooks|servers)[\"']|\.hooks\b|\bmcpServers\b|"
                                          r"\bmcp_servers\b"),
}

# Prose rules (SKILL.md bodies are instructions the agent follows). SENTENCE spans a sentence
# across line breaks but not across a blank line or a full stop.
SENTENCE = r"(?:[^.\n]|\n(?![ \t]*\n))"
PROSE_MEMORY = re.compile(
    r"(?i)\b(?:append|add|write|insert|save|put|store|update|edit|modify|record|persist|"
    r"remember|note|keep|commit|inject|prepend|place|copy|paste)\b" + SENTENCE + r"{0,80}"
    r"\b(?:to|into|in)\b" + SENTENCE + r"{0,30}\b(SOUL|MEMORY|IDENTITY|HEARTBEAT|USER|AGENTS|"
    r"CLAUDE)\.md\b")

# Every regex above, for the one-pass prefilter (anchors.py) that skips those with no match.
PREFILTERED: tuple[re.Pattern[str], ...] = (
    *(r.pattern for r in LINE_RULES), *(s.pattern for s in SIGNALS.values()),
    *PERSISTENCE_TARGETS.values(), PROSE_MEMORY,
)
