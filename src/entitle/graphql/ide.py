"""The GraphiQL page, served entirely by this service (contract §12: it works with no internet).

The page (``static/graphiql.html``) and every script and style it loads are files of this package
(GraphiQL, React and the explorer plugin are vendored from npm by ``scripts/vendor_graphiql.sh``;
``static/README.md`` lists versions and licences). Asset URLs carry a content hash
(``/graphql/static/graphiql.min.js?v=<sha256 prefix>``), so the assets are served as immutable for a
year and a new release busts the cache; the page itself is ``no-cache``. A Content-Security-Policy
header keeps the page to its own origin.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send

STATIC_DIR = Path(__file__).parent / "static"
STATIC_PATH = "/graphql/static/"

_CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
ASSET_NAMES = (
    "react.production.min.js",
    "react-dom.production.min.js",
    "graphiql.min.js",
    "graphiql.min.css",
    "plugin-explorer.umd.js",
    "plugin-explorer.css",
    "entitle-graphiql.js",
    "entitle-graphiql.css",
)
IMMUTABLE = "public, max-age=31536000, immutable"
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
_GZIP_MIN_BYTES = 1024


@dataclass
class Asset:
    body: bytes
    content_type: str
    version: str
    gzipped: bytes | None = None

    @property
    def etag(self) -> str:
        return f'"{self.version}"'


def _load_assets() -> dict[str, Asset]:
    assets = {}
    for name in ASSET_NAMES:
        body = (STATIC_DIR / name).read_bytes()
        version = hashlib.sha256(body).hexdigest()[:16]
        assets[name] = Asset(body, _CONTENT_TYPES[Path(name).suffix], version)
    return assets


_PLACEHOLDER = re.compile(r"\{\{([a-z0-9.-]+)\}\}")


class GraphiQLIde:
    """Renders the page and serves its assets (an ASGI app mounted at ``/graphql/static``)."""

    def __init__(self) -> None:
        self.assets = _load_assets()
        self._template = (STATIC_DIR / "graphiql.html").read_text(encoding="utf-8")
        self._pages: dict[str, bytes] = {}

    def page(self, root_path: str = "") -> Response:
        html = self._pages.get(root_path)
        if html is None:

            def url(match: re.Match[str]) -> str:
                name = match.group(1)
                return f"{root_path}{STATIC_PATH}{name}?v={self.assets[name].version}"

            html = _PLACEHOLDER.sub(url, self._template).encode()
            self._pages[root_path] = html
        return HTMLResponse(
            html,
            headers={
                "Cache-Control": "no-cache",
                "Content-Security-Policy": PAGE_CSP,
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
            },
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self._asset_response(scope)
        await response(scope, receive, send)

    async def _asset_response(self, scope: Scope) -> Response:
        if scope["method"] not in ("GET", "HEAD"):
            return Response(status_code=405, headers={"Allow": "GET, HEAD"})
        name = scope["path"].rsplit("/", 1)[-1]
        asset = self.assets.get(name)
        if asset is None:
            return Response("not found", status_code=404, media_type="text/plain")
        headers = {
            "Cache-Control": IMMUTABLE,
            "ETag": asset.etag,
            "Vary": "Accept-Encoding",
            "X-Content-Type-Options": "nosniff",
        }
        request_headers = dict(scope["headers"])
        if request_headers.get(b"if-none-match", b"").decode("latin-1") == asset.etag:
            return Response(status_code=304, headers=headers)
        body = asset.body
        if len(body) >= _GZIP_MIN_BYTES and b"gzip" in request_headers.get(b"accept-encoding", b""):
            if asset.gzipped is None:  # once per process, off the event loop (graphiql.min.js: 3.5 MB)
                asset.gzipped = await asyncio.to_thread(gzip.compress, asset.body, 6)
            body = asset.gzipped
            headers["Content-Encoding"] = "gzip"
        return Response(body, media_type=asset.content_type, headers=headers)


@cache
def graphiql_ide() -> GraphiQLIde:
    """One per process: the page and its assets are read and hashed once."""
    return GraphiQLIde()
