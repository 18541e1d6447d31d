from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class AuditEntry(BaseModel):
    id: int
    at: datetime
    action: str
    actor: str | None
    actor_role: str | None
    object_type: str | None
    object_id: str | None
    school_id: int | None
    client_ip: str | None
    detail: dict[str, Any]
