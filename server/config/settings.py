"""Server settings (server.yaml) and desk users: the house around the core.

Endpoints are Twisted endpoint strings so the composition root can hand
them to ``clientFromString``/``serverFromString`` unchanged; here they are
only checked for shape, because building them needs a reactor.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from .problems import ConfigError, Problem
from .reports_parse import ReportSettings, parse_reports
from .secrets import read_secret
from .section import Section, describe

__all__ = [
    "AmiSettings",
    "HttpSettings",
    "LoggingSettings",
    "RecordingSettings",
    "RecordsSettings",
    "RedisSettings",
    "ServerSettings",
    "User",
    "parse_server",
]

MIN_RETENTION_DAYS = 92  # DL/T 2046: recordings kept at least 3 months
MIN_WATCHDOG_S = 9  # refreshed every third of it: 3 s apart at least
_PORT = re.compile(r"(?:^|:)(?:port=)?(\d+)(?::|$)")


@dataclass(frozen=True)
class AmiSettings:
    endpoint: str  # client endpoint, e.g. "tcp:host=127.0.0.1:port=5038"
    username: str
    secret_env: str | None
    secret_file: str | None
    keepalive_interval_s: float
    keepalive_timeout_s: float
    action_timeout_s: float
    reconnect_initial_s: float
    reconnect_max_s: float
    #: the dialplan safety net's grace (server/safety.py); 0: not refreshed
    watchdog_s: int = 30

    def secret(self, environ: Mapping[str, str]) -> str:
        """The AMI secret, read now; raises ConfigError when it is not available.

        Read at start-up rather than at load so ``check-config`` can run where
        the service's environment is not set (CI, an admin shell): there a
        missing secret is a warning, but a server that cannot log in must not
        start quietly.
        """
        value = read_secret(self.secret_env, self.secret_file, dict(environ))
        if value is None:
            source = (f"environment variable {self.secret_env}" if self.secret_env
                      else f"file {self.secret_file}")
            raise ConfigError([Problem("server.yaml", "ami", f"AMI secret not available: "
                                       f"{source} is unset, empty or unreadable")])
        return value


@dataclass(frozen=True)
class RedisSettings:
    """``url`` (redis://, rediss:// or unix://, never with a password in it) and the
    ACL user: ``username`` with a password from ``password_env`` or ``password_file``
    (read at start-up, as the AMI secret is).  No password named: no AUTH (a unix
    socket with 0660 permissions is the other way to keep strangers out)."""

    url: str
    username: str | None = None
    password_env: str | None = None
    password_file: str | None = None

    def password(self, environ: Mapping[str, str]) -> str | None:
        """The password, read now; None when none is configured; raises ConfigError
        when one is named but unavailable."""
        if self.password_env is None and self.password_file is None:
            return None
        value = read_secret(self.password_env, self.password_file, dict(environ))
        if value is None:
            source = (f"environment variable {self.password_env}" if self.password_env
                      else f"file {self.password_file}")
            raise ConfigError([Problem("server.yaml", "redis", f"Redis password not "
                                       f"available: {source} is unset, empty or unreadable")])
        return value


@dataclass(frozen=True)
class HttpSettings:
    listen: str  # server endpoint, e.g. "tcp:port=8080:interface=127.0.0.1"
    #: addresses/networks of reverse proxies whose X-Forwarded-For/-Proto are believed
    trusted_proxies: tuple[str, ...] = ()


@dataclass(frozen=True)
class LoggingSettings:
    format: str  # "text" or "json"
    level: str


@dataclass(frozen=True)
class RecordingSettings:
    directory: str
    retention_days: int


@dataclass(frozen=True)
class RecordsSettings:
    spool: str
    retention_days: int


@dataclass(frozen=True)
class ServerSettings:
    ami: AmiSettings
    redis: RedisSettings
    http: HttpSettings
    metrics: HttpSettings
    logging: LoggingSettings
    recordings: RecordingSettings
    records: RecordsSettings
    reports: ReportSettings = ReportSettings()  # period reports: targets, timezone, lag


@dataclass(frozen=True)
class User:
    """A desk user who is not an agent: supervisor or QA reviewer."""

    name: str
    role: str  # "supervisor" or "reviewer"
    password_hash: str
    #: a supervisor's own phone: listen/whisper/barge ring this device and no other
    device: str | None = None


def _endpoint(sec: Section, key: str, *, client: bool, default: str | None = None) -> str | None:
    value = sec.get(key, str) if default is None else sec.get(key, str, default)
    if value is None:
        return None
    kind = value.split(":", 1)[0]
    allowed = ("tcp", "tcp6", "tls", "ssl", "unix") if client else ("tcp", "tcp6", "ssl", "unix")
    if kind not in allowed:
        sec.error(key, f"'{value}' is not a Twisted endpoint string; it must start with one of "
                       f"{', '.join(a + ':' for a in allowed)}")
        return None
    if kind != "unix":
        m = _PORT.search(value.split(":", 1)[1])
        if client and "host=" not in value:
            sec.error(key, f"'{value}' has no host= (e.g. tcp:host=127.0.0.1:port=5038)")
        if not m or not 0 < int(m.group(1)) < 65536:
            sec.error(key, f"'{value}' has no valid port (1-65535)")
    return value


def _trusted_proxies(sec: Section) -> tuple[str, ...] | None:
    """``trusted_proxies``: a list of IP addresses or networks (CIDR); default none."""
    raw = sec.get("trusted_proxies", list, [])
    if raw is None:
        return None
    out: list[str] = []
    for i, item in enumerate(raw):
        try:
            if not isinstance(item, str):
                raise ValueError(f"expected an address like 127.0.0.1 or 10.0.0.0/24, "
                                 f"got {describe(item)}")
            out.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError as e:
            sec.error(f"trusted_proxies[{i}]", str(e))
            return None
    return tuple(out)


def _port(endpoint: str | None) -> str | None:
    m = _PORT.search(endpoint.split(":", 1)[1]) if endpoint and ":" in endpoint else None
    return m.group(1) if m else None


def _ami(top: Section) -> AmiSettings | None:
    sec = top.sub("ami", ("endpoint", "username", "secret", "secret_env", "secret_file",
                          "keepalive", "action_timeout_s", "reconnect", "watchdog_s"))
    if sec is None:
        return None
    if "secret" in sec.data:
        sec.error("secret", "literal secrets are not allowed in config files (they end up in "
                            "version control and backups); name an environment variable with "
                            "secret_env or a file with secret_file")
    env, file = sec.get("secret_env", str, ""), sec.get("secret_file", str, "")
    if bool(env) == bool(file):
        sec.error("secret_env", "set exactly one of secret_env or secret_file")
    keep = sec.sub("keepalive", ("interval_s", "timeout_s"), required=False)
    back = sec.sub("reconnect", ("initial_s", "max_s"), required=False)
    endpoint = _endpoint(sec, "endpoint", client=True)
    username = sec.get("username", str)
    k_int = keep.number("interval_s", float, 20.0, lo=1)
    k_to = keep.number("timeout_s", float, 10.0, lo=1)
    act = sec.number("action_timeout_s", float, 10.0, lo=0.1)
    b_init = back.number("initial_s", float, 1.0, lo=0.1)
    b_max = back.number("max_s", float, 30.0, lo=0.1)
    watchdog = sec.number("watchdog_s", int, 30, lo=0)
    if watchdog is not None and 0 < watchdog < MIN_WATCHDOG_S:
        sec.error("watchdog_s", f"{watchdog} s is shorter than a daemon restart; use at least "
                                f"{MIN_WATCHDOG_S} (or 0 to turn the safety net's refresh off)")
        watchdog = None
    if (endpoint is None or username is None or k_int is None or k_to is None or act is None
            or b_init is None or b_max is None or watchdog is None):
        return None
    if b_max < b_init:
        back.error("max_s", f"{b_max} is less than initial_s {b_init}")
    return AmiSettings(endpoint, username, env or None, file or None, k_int, k_to, act,
                       b_init, b_max, watchdog)


def _redis(sec: Section) -> RedisSettings | None:
    if "password" in sec.data:
        sec.error("password", "literal secrets are not allowed in config files; name an "
                              "environment variable with password_env or a file with "
                              "password_file")
    url = sec.get("url", str)
    if url and not url.startswith(("redis://", "rediss://", "unix://")):
        sec.error("url", f"'{url}' must start with redis://, rediss:// or unix://")
    elif url and (urlsplit(url).password is not None or "password=" in urlsplit(url).query):
        sec.error("url", "the URL carries a password: name it with password_env or "
                         "password_file instead (config files end up in git and backups)")
        url = None
    username = sec.get("username", str, "") or None
    env, file = sec.get("password_env", str, "") or None, sec.get("password_file", str, "") or None
    if env and file:
        sec.error("password_env", "set at most one of password_env or password_file")
    if username and not (env or file):
        sec.error("username", "an ACL user needs password_env or password_file")
    return RedisSettings(url, username, env, file) if url else None


def _retention(sec: Section) -> int | None:
    days = sec.number("retention_days", int, MIN_RETENTION_DAYS, lo=1)
    if days is not None and days < MIN_RETENTION_DAYS:
        sec.error("retention_days", f"{days} days is too short: DL/T 2046 requires at least "
                                    f"3 months ({MIN_RETENTION_DAYS} days)")
    return days


def parse_server(top: Section) -> ServerSettings | None:
    """Parse server.yaml; None when any part is unusable (problems recorded)."""
    ami = _ami(top)
    redis = top.sub("redis", ("url", "username", "password", "password_env", "password_file"))
    http = top.sub("http", ("listen", "trusted_proxies"), required=False)
    metrics = top.sub("metrics", ("listen",), required=False)
    log = top.sub("logging", ("format", "level"), required=False)
    rec = top.sub("recordings", ("directory", "retention_days"))
    records = top.sub("records", ("spool", "retention_days"))
    redis_settings = _redis(redis) if redis is not None else None
    listen = _endpoint(http, "listen", client=False, default="tcp:port=8080:interface=127.0.0.1")
    mlisten = _endpoint(metrics, "listen", client=False,
                        default="tcp:port=9598:interface=127.0.0.1")
    if listen and mlisten and _port(listen) == _port(mlisten):
        metrics.error("listen", f"port {_port(mlisten)} is already used by http.listen; "
                                "metrics needs its own port")
    proxies = _trusted_proxies(http)
    fmt = log.choice("format", ("text", "json"), "text")
    level = log.choice("level", ("debug", "info", "warning", "error"), "info")
    rdir = rec.get("directory", str) if rec is not None else None
    rdays = _retention(rec) if rec is not None else None
    spool = records.get("spool", str) if records is not None else None
    sdays = _retention(records) if records is not None else None
    reports = parse_reports(top)
    if (ami is None or redis_settings is None or listen is None or mlisten is None
            or proxies is None or fmt is None or level is None or rdir is None or rdays is None
            or spool is None or sdays is None or reports is None):
        return None
    return ServerSettings(ami, redis_settings, HttpSettings(listen, proxies),
                          HttpSettings(mlisten),
                          LoggingSettings(fmt, level), RecordingSettings(rdir, rdays),
                          RecordsSettings(spool, sdays), reports)
