"""The control plane's ASGI app: the REST API under /api, the web page at /, /healthz and
/metrics (Prometheus text). Built from explicit configuration: a store, the playbooks
items may be submitted to, and who the local user is."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.routing import APIRoute
from fastapi_offline import FastAPIOffline
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from .. import __version__
from ..config.playbook import Playbook
from ..errors import InputError, InvalidAction, NotFound, StoreError, UserError, VersionConflict
from ..services import readmodel
from ..services.auth import Role
from ..store.base import Store
from .access import Access, need
from .fanout import Hub
from .lists import lists
from .prometheus import SCRAPED, exposition
from .routes import router

WEB = resources.files("baton.web")
_WEB_FILES = {
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}


def create_app(
    store: Store,
    playbooks: list[Playbook] | None = None,
    *,
    local_user: str = "local",
    loopback_only: bool = True,
) -> FastAPI:
    """The app over one store (the same the workers use)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await app.state.hub.close()  # every live stream ends; its follower stops

    # the interactive API docs (Swagger UI) from assets shipped in a package, not a CDN:
    # /api/docs works offline and behind a firewall
    app = FastAPIOffline(
        title="baton",
        version=__version__,
        description="The control plane of baton: items, decisions, agents, metrics, audit.",
        docs_url="/api/docs",
        redoc_url=None,
        static_url="/api/docs-assets",
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
    )
    app.state.store = store
    app.state.playbooks = {b.name: b for b in playbooks or []}
    app.state.access = Access(store, local_user, loopback_only)
    app.state.hub = Hub(store)  # one follower of the feed for every live stream
    app.state.flights = {}  # expensive reads running now, shared by who asks (deps.shared)
    app.include_router(router)
    app.include_router(lists)
    _errors(app)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, Any]:
        """Alive, and the store answers."""
        counts = await store.counts()
        return {"ok": True, "items": sum(counts.values())}

    @app.get("/metrics", response_class=PlainTextResponse, tags=["metrics"])
    async def prometheus(request: Request) -> PlainTextResponse:
        """Every figure in Prometheus text format (for a scraper: a viewer token)."""
        need(await request.app.state.access.identify(request), Role.VIEWER)
        # not the hourly series: they grow with the hours the history spans
        counters = await readmodel.current(store, SCRAPED)
        return PlainTextResponse(
            exposition(await store.counts(), counters), media_type=CONTENT_TYPE_LATEST
        )

    @app.get("/", include_in_schema=False)
    async def index() -> Response:
        return Response(WEB.joinpath("index.html").read_bytes(), media_type="text/html")

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> Response:
        media = _WEB_FILES.get(name)
        if media is None:
            return JSONResponse({"detail": f"no such file: {name}"}, status_code=404)
        return Response(
            WEB.joinpath(name).read_bytes(),
            media_type=media,
            headers={"Cache-Control": "no-cache"},
        )

    return app


def _errors(app: FastAPI) -> None:
    """baton's errors as 4xx answers that say what to fix; a store out of reach as 503."""

    def status(code: int) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
        async def handler(_: Request, exc: Exception) -> JSONResponse:
            if isinstance(exc, InputError):
                problems = [
                    {"where": p.file, "field": p.field, "message": p.message} for p in exc.problems
                ]
                return JSONResponse({"detail": str(exc), "problems": problems}, status_code=code)
            return JSONResponse({"detail": str(exc)}, status_code=code)

        return handler

    # the most precise class first: Starlette picks a handler by the exception's MRO
    for kind, code in (
        (NotFound, 404),
        (InvalidAction, 409),
        (InputError, 422),
        (UserError, 400),
        (VersionConflict, 409),
        (StoreError, 503),
    ):
        app.add_exception_handler(kind, status(code))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # every method the path has, not just one route's
            scope = {"type": "http", "path": request.url.path, "method": request.method}
            allowed = {
                method
                for route in app.routes
                if isinstance(route, APIRoute) and route.matches(scope)[0] is not Match.NONE
                for method in route.methods or ()
            }
            headers["Allow"] = ", ".join(sorted(allowed - {"HEAD"}))
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {
                "field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"),
                "message": e.get("msg", "invalid"),
            }
            for e in exc.errors()
        ]
        detail = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
        return JSONResponse({"detail": detail, "problems": problems}, status_code=422)
