"""Resource providers of the exposure area (registered on import)."""

from __future__ import annotations

from aiaudit.context import AuditContext
from aiaudit.exposure.listeners import ai_listeners
from aiaudit.resources import provider


@provider("ai_listeners", empty_reason="no AI service is listening on the target host")
def _ai_listeners(ctx: AuditContext) -> list[tuple[str, object]]:
    return [(ai.case_id, ai) for ai in ai_listeners(ctx.host(), ctx.config.extra_ports)]
