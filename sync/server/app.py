"""The FastAPI application: routes per DESIGN §6, one error mapping, no plaintext anywhere.

Routes are plain functions (run in the thread pool) that authenticate, check role and project,
and call one storage function. Domain code raises FieldkitError subclasses; the one handler
below turns them into {"error": {"code", "message"}} with the class's status.
"""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

import anyio.to_thread
import pydantic_core
from fastapi import Body, Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from fieldkit import __version__
from fieldkit.errors import FieldkitError
from sync import protocol as p
from sync.server import attachments, feed, projects, records
from sync.server.auth import (
    Caller,
    authenticate,
    now,
    require_admin,
    require_coordinator,
    require_device,
)
from sync.server.budget import MemoryBudget
from sync.server.db import make_engine, migrate
from sync.server.errors import Gone, NotFound, PayloadTooLarge, status_of
from sync.server.files import loose_permissions
from sync.server.guard import CALLER_KEY, BodyGuard, error_bytes
from sync.server.settings import ServerSettings
from sync.server.verify import Verifier

__all__ = ["create_app"]

log = logging.getLogger("fieldkit.server")

_bearer = HTTPBearer(auto_error=False, description="Device or admin token")
_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": p.ErrorBody} for status in (400, 401, 403, 404, 408, 409, 413, 415, 422, 503)
}


def _json_reply(request: Request, body: bytes) -> Response:
    """A JSON reply, gzipped (level 1: cheap) when the client accepts gzip."""
    accepts = request.headers.get("accept-encoding", "")
    if "gzip" in accepts.lower():
        packed = gzip.compress(body, compresslevel=1, mtime=0)
        headers = {"Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
        return Response(packed, media_type="application/json", headers=headers)
    return Response(body, media_type="application/json")


class _App(FastAPI):
    """FastAPI that never lets an unexpected exception's text reach the server's log.

    Starlette re-raises after sending its 500 so the server can log it; uvicorn would print
    the exception message, which may quote data. Here only the class name is logged.
    """

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        except Exception as exc:  # noqa: BLE001 - the 500 reply has already been sent
            log.error("internal error: %s", exc.__class__.__name__)


class _StrictJSONRequest(Request):
    """A request whose JSON body is parsed by pydantic-core, not the json module.

    The json module accepts lone UTF-16 surrogates (``"\\ud800"``) that no UTF-8 encoder can
    write back: they would fail deep in storage as a 500. pydantic-core rejects them, and NaN
    and Infinity too, which are not JSON (RFC 8259 §6, §8.2). A large body is parsed in a
    worker thread, so the event loop keeps answering other requests meanwhile.
    """

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                if len(body) > _PARSE_IN_THREAD:
                    self._json = await anyio.to_thread.run_sync(_parse_json, body)
                else:
                    self._json = _parse_json(body)
            except ValueError:
                raise json.JSONDecodeError("invalid JSON", "", 0) from None
        return self._json


_PARSE_IN_THREAD = 64 * 1024


def _parse_json(body: bytes) -> Any:
    return pydantic_core.from_json(body, allow_inf_nan=False)


class _StrictJSONRoute(APIRoute):
    """Every route reads its body through _StrictJSONRequest."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(_StrictJSONRequest(request.scope, request.receive))

        return strict


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def _settings(request: Request) -> ServerSettings:
    settings: ServerSettings = request.app.state.settings
    return settings


EngineDep = Annotated[Engine, Depends(_engine)]
SettingsDep = Annotated[ServerSettings, Depends(_settings)]


def _caller(
    request: Request,
    engine: EngineDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    # A request with a body was authenticated by the guard before its body was read.
    known = request.scope.get("state", {}).get(CALLER_KEY)
    if isinstance(known, Caller):
        return known
    header = f"{credentials.scheme} {credentials.credentials}" if credentials else None
    return authenticate(engine, header)


CallerDep = Annotated[Caller, Depends(_caller)]


def _error(status: int, code: str, message: str) -> Response:
    return Response(error_bytes(code, message), status_code=status, media_type="application/json")


def _install_handlers(app: FastAPI) -> None:
    async def on_fieldkit(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, FieldkitError)
        status, code = status_of(exc)
        return _error(status, code, str(exc))

    async def on_validation(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = list(exc.errors())
        if any(e.get("type") == "json_invalid" for e in errors):
            return _error(400, "bad_request", "body is not valid JSON")
        # Location and message only: pydantic's `input` would echo what the client sent.
        first = errors[0] if errors else {}
        where = ".".join(str(part) for part in first.get("loc", ()))
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        return _error(422, "invalid", f"{where}: {first.get('msg', 'invalid')}{more}")

    async def on_http(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _error(exc.status_code, code, str(exc.detail))

    async def on_storage(_: Request, exc: Exception) -> Response:
        log.error("storage error: %s", exc.__class__.__name__)
        return _error(503, "storage_unavailable", "storage unavailable; try again")

    async def on_other(_: Request, exc: Exception) -> Response:
        return _error(500, "internal", "internal error")

    app.add_exception_handler(FieldkitError, on_fieldkit)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(SQLAlchemyError, on_storage)
    app.add_exception_handler(Exception, on_other)


def create_app(settings: ServerSettings) -> FastAPI:
    """The sync server for these settings; migrations are applied before it serves."""
    engine = make_engine(settings)
    migrate(engine)
    for problem in loose_permissions(settings.data_dir):
        log.warning("%s", problem)
    verifier = Verifier(settings.verify_processes)
    budget = MemoryBudget(settings.body_memory_budget_bytes)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        verifier.close()
        engine.dispose()

    app = _App(
        title="fieldkit sync server",
        version=__version__,
        summary="Stores sealed envelopes it cannot read; relays forms, public keys and grants.",
        lifespan=lifespan,
        responses=_ERRORS,
    )
    app.router.route_class = _StrictJSONRoute
    app.state.engine = engine
    app.state.settings = settings
    app.state.verifier = verifier
    app.state.budget = budget
    _install_handlers(app)
    app.add_middleware(
        BodyGuard,
        settings=settings,
        budget=budget,
        authenticator=lambda header: authenticate(engine, header),
        storage_errors=(SQLAlchemyError,),
    )
    _routes(app, settings)
    return app


def _routes(app: FastAPI, settings: ServerSettings) -> None:
    @app.get("/v1/health", response_model=p.HealthResponse, tags=["sync"])
    def health() -> p.HealthResponse:
        """Liveness, server version and time (no authentication)."""
        return p.HealthResponse(
            status="ok", version=__version__, protocol=p.PROTOCOL_VERSION, server_time=now()
        )

    @app.post("/v1/projects", response_model=p.ProjectCreateResponse, tags=["admin"])
    def create_project(
        body: p.ProjectCreateRequest, caller: CallerDep, engine: EngineDep
    ) -> p.ProjectCreateResponse:
        """Make a project from its creator's signed statements (admin token)."""
        require_admin(caller)
        return projects.create_project(engine, body, settings=settings)

    @app.post("/v1/projects/identity", response_model=p.StatementResponse, tags=["coordinator"])
    def upgrade_identity(
        body: p.IdentityUpgradeRequest, caller: CallerDep, engine: EngineDep
    ) -> p.StatementResponse:
        """Give a project made before signed statements its signing identity (coordinator)."""
        require_coordinator(caller)
        projects.upgrade_identity(
            engine, caller=caller, statements=body.statements, settings=settings
        )
        return p.StatementResponse(status="created")

    @app.post("/v1/admin/enroll-codes", tags=["admin"], include_in_schema=False)
    def enroll_code(caller: CallerDep) -> Response:
        """Retired: a code the server makes cannot prove the project to the enrolling laptop."""
        require_admin(caller)
        raise Gone("enrolment codes are made by a coordinator: `fieldkit project enroll-code`")

    @app.get("/v1/admin/devices", response_model=p.AdminDeviceList, tags=["admin"])
    def admin_devices(caller: CallerDep, engine: EngineDep) -> p.AdminDeviceList:
        """Every enrolled device (admin token)."""
        require_admin(caller)
        return p.AdminDeviceList(devices=projects.list_admin_devices(engine))

    @app.post("/v1/admin/devices/{device_id}/revoke", response_model=p.AdminDevice, tags=["admin"])
    def revoke(device_id: str, caller: CallerDep, engine: EngineDep) -> p.AdminDevice:
        """Revoke a device: its next call gets 401 (admin token)."""
        require_admin(caller)
        if len(device_id) > 64:
            raise NotFound("no such device")
        return projects.revoke_device(engine, device_id)

    @app.post("/v1/enroll", response_model=p.EnrollResponse, tags=["sync"])
    def enroll(body: p.EnrollRequest, engine: EngineDep) -> p.EnrollResponse:
        """Spend a one-time code; register this device's public keys; get token, keys, forms."""
        return projects.enroll(engine, body)

    @app.post(
        "/v1/push",
        response_class=Response,
        responses={200: {"model": p.PushResponse, "description": "One result per envelope"}},
        tags=["sync"],
    )
    def push(
        body: p.PushRequest, caller: CallerDep, engine: EngineDep, request: Request
    ) -> Response:
        """Store sealed envelopes exactly once; one result per item; committed before reply."""
        require_device(caller)
        if len(body.envelopes) > settings.max_batch:
            raise PayloadTooLarge(f"batch over {settings.max_batch} envelopes")
        results = records.push(
            engine,
            caller=caller,
            batch=body.envelopes,
            settings=settings,
            verifier=request.app.state.verifier,
        )
        # A field laptop on a metered link reads one result per record it sent: no
        # `"reason": null`, and gzip when it accepts it (record ids and statuses halve).
        reply = p.PushResponse(results=results).model_dump_json(exclude_none=True).encode()
        return _json_reply(request, reply)

    @app.post("/v1/relay", response_model=p.PushResponse, tags=["sync"])
    def relay(
        body: p.PushRequest, caller: CallerDep, engine: EngineDep, request: Request
    ) -> p.PushResponse:
        """Store other devices' envelopes a laptop carried by bundle, as their own push would."""
        from sync.server.relay import relay as relay_envelopes

        require_device(caller)
        if len(body.envelopes) > settings.max_batch:
            raise PayloadTooLarge(f"batch over {settings.max_batch} envelopes")
        results = relay_envelopes(
            engine,
            caller=caller,
            batch=body.envelopes,
            settings=settings,
            verifier=request.app.state.verifier,
        )
        return p.PushResponse(results=results)

    @app.get(
        "/v1/pull",
        response_class=Response,
        responses={200: {"model": p.PullResponse, "description": "Changes in commit order"}},
        tags=["sync"],
    )
    def pull(
        caller: CallerDep,
        engine: EngineDep,
        cursor: Annotated[str | None, Query(max_length=32)] = None,
        limit: Annotated[int | None, Query(ge=1, le=p.MAX_PULL_LIMIT)] = None,
        only: Annotated[Literal["statement"] | None, Query()] = None,
    ) -> Response:
        """Changes after the cursor that this device may read, in commit order (``only``:
        statements alone, for a device reading them again)."""
        require_device(caller)
        size = min(limit or settings.default_pull_limit, settings.max_pull_limit)
        body = feed.pull(
            engine,
            caller=caller,
            cursor=feed.parse_cursor(cursor),
            limit=size,
            only=only,
        )
        return Response(body, media_type="application/json")

    @app.get("/v1/attachments/{attachment_id}", response_model=p.AttachmentStatus, tags=["sync"])
    def attachment_status(
        attachment_id: Annotated[str, Path(pattern=p.ATTACHMENT_ID)],
        caller: CallerDep,
        engine: EngineDep,
    ) -> p.AttachmentStatus:
        """How many bytes of one of this device's sealed attachments the server holds."""
        require_device(caller)
        return attachments.status(engine, caller=caller, attachment_id=attachment_id)

    @app.post("/v1/attachments/{attachment_id}", response_model=p.AttachmentStatus, tags=["sync"])
    def attachment_part(
        attachment_id: Annotated[str, Path(pattern=p.ATTACHMENT_ID)],
        body: p.AttachmentPart,
        caller: CallerDep,
        engine: EngineDep,
    ) -> p.AttachmentStatus:
        """Append a part of a sealed attachment where the held bytes end; committed before
        the reply, which says what is held (a resend is acknowledged, not stored twice)."""
        require_device(caller)
        return attachments.append_part(
            engine,
            caller=caller,
            attachment_id=attachment_id,
            offset=body.offset,
            data_b64=body.data,
            settings=settings,
        )

    @app.get(
        "/v1/attachments/{device_id}/{attachment_id}",
        response_model=p.AttachmentData,
        tags=["coordinator"],
    )
    def attachment_data(
        device_id: Annotated[str, Path(max_length=64)],
        attachment_id: Annotated[str, Path(pattern=p.ATTACHMENT_ID)],
        caller: CallerDep,
        engine: EngineDep,
        offset: Annotated[int, Query(ge=0)] = 0,
        length: Annotated[int, Query(ge=1, le=p.MAX_ATTACHMENT_PART)] = p.MAX_ATTACHMENT_PART,
    ) -> p.AttachmentData:
        """A piece of a device's complete sealed attachment (coordinator)."""
        require_coordinator(caller)
        return attachments.read_piece(
            engine,
            caller=caller,
            device_id=device_id,
            attachment_id=attachment_id,
            offset=offset,
            length=min(length, settings.max_attachment_part_bytes),
        )

    @app.post("/v1/forms", response_model=p.FormPublishResponse, tags=["coordinator"])
    def publish_form(
        body: p.FormPublishRequest, caller: CallerDep, engine: EngineDep
    ) -> p.FormPublishResponse:
        """Publish a form version to a project made before signed statements (coordinator)."""
        require_coordinator(caller)
        status = projects.publish_form(engine, caller=caller, request=body)
        return p.FormPublishResponse(status="created" if status == "created" else "unchanged")

    @app.get("/v1/devices", response_model=p.ProjectDeviceList, tags=["coordinator"])
    def project_devices(caller: CallerDep, engine: EngineDep) -> p.ProjectDeviceList:
        """The project's devices and their public keys (coordinator)."""
        require_coordinator(caller)
        return p.ProjectDeviceList(devices=projects.list_project_devices(engine, caller=caller))

    @app.get("/v1/enrolments", response_model=p.PendingEnrolmentList, tags=["coordinator"])
    def enrolments(caller: CallerDep, engine: EngineDep) -> p.PendingEnrolmentList:
        """Devices that spent a code and wait for a coordinator's certificate (coordinator)."""
        require_coordinator(caller)
        return p.PendingEnrolmentList(enrolments=projects.pending_enrolments(engine, caller=caller))

    @app.post("/v1/enrolments/refuse", response_model=p.StatementResponse, tags=["coordinator"])
    def refuse(
        body: p.RefuseEnrolmentRequest, caller: CallerDep, engine: EngineDep
    ) -> p.StatementResponse:
        """Refuse an enrolment whose keys do not match its code; its token stops (coordinator)."""
        require_coordinator(caller)
        projects.refuse_enrolment(engine, caller=caller, device_id=body.device_id)
        return p.StatementResponse(status="created")

    @app.post("/v1/statements", response_model=p.StatementResponse, tags=["coordinator"])
    def statement(
        body: p.StatementRequest, caller: CallerDep, engine: EngineDep
    ) -> p.StatementResponse:
        """Relay a statement the calling coordinator signed for the project (coordinator)."""
        require_coordinator(caller)
        status = projects.post_statement(
            engine,
            caller=caller,
            statement=body.statement,
            definition=body.definition,
            settings=settings,
        )
        return p.StatementResponse(status="created" if status == "created" else "unchanged")

    @app.post(
        "/v1/envelopes/fetch",
        tags=["coordinator"],
        responses={200: {"model": p.EnvelopeFetchResponse, "description": "Envelopes found"}},
    )
    def fetch_envelopes(
        body: p.EnvelopeFetchRequest, caller: CallerDep, engine: EngineDep
    ) -> Response:
        """Envelopes by (device_id, record_id), for a coordinator assigning a case."""
        require_coordinator(caller)
        return Response(
            projects.fetch_envelopes(engine, caller=caller, refs=body.refs),
            media_type="application/json",
        )

    @app.post("/v1/key-grants", response_model=p.KeyGrantResponse, tags=["coordinator"])
    def key_grant(
        body: p.KeyGrantRequest, caller: CallerDep, engine: EngineDep
    ) -> p.KeyGrantResponse:
        """Relay the project's private keys sealed to a certified coordinator (coordinator)."""
        require_coordinator(caller)
        projects.grant_key(engine, caller=caller, request=body)
        return p.KeyGrantResponse(status="created")

    if settings.bench_endpoints:

        @app.post("/v1/bench/sink", status_code=204, include_in_schema=False)
        def bench_sink(body: Annotated[dict[str, Any], Body()], caller: CallerDep) -> Response:
            """Baseline for bench/sync.py: authenticate, parse one JSON body, answer 204."""
            require_device(caller)
            return Response(status_code=204)
