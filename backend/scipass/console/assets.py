"""The console's own scripts and styles (``static/``), and the browser libraries `npm ci` put in
``SCIPASS_CONSOLE_VENDOR_DIR`` (package.json pins them): only the files named in
:data:`VENDOR` are served. Nothing is built; a missing library answers 503 with what to run."""

from __future__ import annotations

import mimetypes
from importlib import resources
from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from scipass.core.auth import public_access
from scipass.core.errors import NotFound, ServiceUnavailable

router = APIRouter(
    prefix="/console", include_in_schema=False, dependencies=[Depends(public_access)]
)

# Served name → file under node_modules.
VENDOR: dict[str, str] = {
    "jsqr.js": "jsqr/dist/jsQR.js",
    "ed25519.js": "@noble/ed25519/index.js",
}
STATIC = resources.files("scipass.console") / "static"
TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}


class AssetMissing(ServiceUnavailable):
    code = "console_assets_missing"
    title_zh = "控制台的浏览器组件未安装"
    title_en = "The console's browser libraries are not installed"


def _file(content: bytes, name: str, *, max_age: int) -> Response:
    media = (
        TYPES.get(Path(name).suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"
    )
    return Response(
        content,
        media_type=media,
        headers={
            "Cache-Control": f"public, max-age={max_age}",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/static/{name}", name="console-static")
async def static(name: str) -> Response:
    if "/" in name or name.startswith("."):
        raise NotFound()
    found = STATIC / name
    if not found.is_file():
        raise NotFound()
    return _file(found.read_bytes(), name, max_age=300)


@router.get("/vendor/{name}", name="console-vendor")
async def vendor(name: str, request: Request) -> Response:
    relative = VENDOR.get(name)
    if relative is None:
        raise NotFound()
    path = Path(request.app.state.settings.console_vendor_dir) / relative
    if not path.is_file():
        raise AssetMissing(f"缺少 {relative}：请在项目目录运行 npm ci（make run 会运行）")
    return _file(path.read_bytes(), name, max_age=3600)


@router.get("/sw.js", name="console-service-worker")
async def service_worker() -> Response:
    """The service worker, served from the console's root so that it may control every
    console page (the door scanner's offline use)."""
    response = _file((STATIC / "sw.js").read_bytes(), "sw.js", max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Service-Worker-Allowed"] = "/console"
    return response
