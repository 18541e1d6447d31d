"""The check-in routers' own request dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from scipass.checkin.views import ScanCache
from scipass.core.idempotency import KEY_PATTERN

NonceHeader = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        pattern=KEY_PATTERN,
        description="客户端为这次扫码生成的随机编号；网络重试时带同一个值，返回第一次的结果",
    ),
]


async def _cache(request: Request) -> ScanCache:
    cache = getattr(request.app.state, "checkin_cache", None)
    if cache is None:
        cache = request.app.state.checkin_cache = ScanCache()
    return cache


CacheDep = Annotated[ScanCache, Depends(_cache)]
