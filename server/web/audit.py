"""Who did what to whom: the supervisor actions the pages offer, one log line each.

Minimal on this branch (the security work brings the stored audit trail with the
same ``record`` signature); the web handlers only ever call ``record``.
"""

from __future__ import annotations

import json
from typing import Any

from twisted.logger import Logger


class AuditLog:
    log = Logger()

    def record(self, who: str, action: str, target: str, detail: dict[str, Any]) -> None:
        self.log.info("AUDIT {who} {action} {target} {detail}", who=who, action=action,
                      target=target, detail=json.dumps(detail, ensure_ascii=False,
                                                       sort_keys=True))
