"""``python -m server run``: load the config, start logging, run the composition root."""

from __future__ import annotations

import os
import sys

from twisted.logger import (
    FilteringLogObserver,
    LogLevel,
    LogLevelFilterPredicate,
    globalLogBeginner,
    jsonFileLogObserver,
    textFileLogObserver,
)

from server.config import ConfigError, load_config
from server.config.strength import secret_problems


def start_logging(fmt: str, level: str = "info", stream=None) -> None:
    """Send twisted.logger events to ``stream`` as text lines or JSON records."""
    stream = stream or sys.stdout
    observer = jsonFileLogObserver(stream) if fmt == "json" else textFileLogObserver(stream)
    # Twisted names it "warn"; the config (and most admins) say "warning".
    name = {"warning": "warn"}.get(level.lower(), level.lower())
    predicate = LogLevelFilterPredicate(defaultLogLevel=LogLevel.levelWithName(name))
    globalLogBeginner.beginLoggingTo(
        [FilteringLogObserver(observer, [predicate])], redirectStandardIO=False
    )


def run_daemon(config_dir: str, log_format: str | None = None, *,
               allow_weak_secrets: bool = False) -> int:
    """``allow_weak_secrets``: only the soak's own launcher (server/soak/daemon.py)
    passes True; ``python -m server run`` has no way to."""
    try:
        cfg = load_config(config_dir)
        secret = cfg.server.ami.secret(os.environ)
        redis_password = cfg.server.redis.password(os.environ)
        weak = [] if allow_weak_secrets else secret_problems(cfg)
        if weak:
            raise ConfigError(weak)
    except ConfigError as exc:
        print(f"hotline: configuration problems in {config_dir}:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    start_logging(log_format or cfg.server.logging.format, cfg.server.logging.level)

    from twisted.internet import reactor

    from server.app import Hotline

    hotline = Hotline.from_config(reactor, cfg, secret, redis_password=redis_password)
    hotline.start_metrics()  # both hang their listeners under hotline.services
    hotline.http_site()
    hotline.services.startService()
    reactor.addSystemEventTrigger("before", "shutdown", hotline.services.stopService)
    reactor.run()
    return 0
