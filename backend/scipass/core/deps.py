"""Request-scoped dependencies shared by every domain's router.

Dependencies that only read the request are ``async def``: FastAPI runs a plain ``def``
dependency in a worker thread, a hop that costs more than the work itself.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from scipass.core.config import Settings
from scipass.core.db import Database
from scipass.wechat.client import WeChat


async def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


async def get_database(request: Request) -> Database:
    return request.app.state.db


async def get_wechat(request: Request) -> WeChat:
    return request.app.state.wechat


async def client_address(request: Request) -> str:
    """The caller's address (uvicorn resolves trusted proxies' X-Forwarded-For)."""
    return request.client.host if request.client else "unknown"


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
DatabaseDep = Annotated[Database, Depends(get_database)]
WeChatDep = Annotated[WeChat, Depends(get_wechat)]
ClientAddress = Annotated[str, Depends(client_address)]
