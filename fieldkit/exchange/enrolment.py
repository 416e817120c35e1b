"""Joining a project: enrol a device, create a project, hand the project key to a coordinator,
publish a form."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fieldkit.crypto.hpke import key_id, public_raw, wrap
from fieldkit.errors import AuthError, CryptoError, FormError, ProtocolError, UsageError
from fieldkit.exchange._state import (
    STATE_TOKEN,
    b64,
    check_server,
    open_client,
    project_private_keys,
    save_enrolment,
)
from fieldkit.exchange.transfer import KEY_GRANT_INFO, seal_pending

if TYPE_CHECKING:
    from fieldkit.store import Workspace

__all__ = [
    "Enrolled",
    "approve_coordinator",
    "create_project",
    "enroll",
    "publish_form",
]


@dataclass(frozen=True)
class Enrolled:
    """The outcome of enrolment or project creation."""

    server: str
    project_id: str
    project_name: str
    device_id: str
    role: str
    forms: int
    sealed: int

    def line(self) -> str:
        """One line for the terminal."""
        return (
            f"Enrolled as {self.role} device {self.device_id} in project "
            f"{self.project_name or self.project_id}; {self.forms} form version(s) received."
        )


def _refuse_second_enrolment(ws: Workspace) -> None:
    if ws.state.get(STATE_TOKEN):
        raise UsageError(
            "this workspace is already enrolled; a workspace belongs to one project "
            "(make another with `fieldkit --home DIR init`)"
        )


def _device_keys(ws: Workspace, name: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "x25519": b64(ws.device.x25519_public),
        "ed25519": b64(ws.device.ed25519_public),
    }
    if name:
        body["name"] = name
    return body


def enroll(
    ws: Workspace,
    url: str,
    code: str,
    *,
    insecure_http: bool = False,
    name: str | None = None,
    ca_bundle: str | None = None,
    **client_options: Any,
) -> Enrolled:
    """Enrol this workspace with a one-time code: register the device's public keys, keep the
    token inside the encrypted workspace, take the project keys and forms."""
    from sync.client import SyncClient

    _refuse_second_enrolment(ws)
    client = SyncClient(url, insecure_http=insecure_http, ca_bundle=ca_bundle, **client_options)
    with client:
        check_server(client)
        reply = client.enroll({"code": code.strip(), **_device_keys(ws, name)})
        try:
            project = reply["project"]
            keys = [
                {"key_id": str(k["key_id"]), "public_key": str(k["public_key"])}
                for k in project["keys"]
            ]
            device_id, token, role = str(reply["device_id"]), str(reply["token"]), reply["role"]
        except (KeyError, TypeError):
            raise ProtocolError(
                "the server's enrolment reply does not follow the protocol"
            ) from None
        for item in keys:
            # A key id is the hash of the key (contract): a mismatch is a server that lies.
            if key_id(base64.b64decode(item["public_key"])) != item["key_id"]:
                raise CryptoError("the server sent a project key whose id does not match it")
        forms = 0
        with ws.records.batch():
            save_enrolment(
                ws,
                server_url=client.base_url,
                token=token,
                device_id=device_id,
                project_id=str(project["project_id"]),
                project_name=str(project.get("name") or ""),
                role=str(role),
                insecure_http=insecure_http,
                project_keys=keys,
                ca_bundle=ca_bundle,
            )
            for form in reply.get("forms") or []:
                try:
                    ws.forms.add(form["definition"])
                    forms += 1
                except FormError:
                    continue
    sealed = seal_pending(ws)
    return Enrolled(
        server=client.base_url,
        project_id=str(project["project_id"]),
        project_name=str(project.get("name") or ""),
        device_id=device_id,
        role=str(role),
        forms=forms,
        sealed=sealed,
    )


def create_project(
    ws: Workspace,
    name: str,
    *,
    server: str,
    admin_token: str,
    insecure_http: bool = False,
    device_name: str | None = None,
    ca_bundle: str | None = None,
    **client_options: Any,
) -> Enrolled:
    """Make the project key pair here, register only its public half, enrol this laptop as
    the project's first coordinator."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
    )

    from sync.client import SyncClient

    _refuse_second_enrolment(ws)
    project_key = X25519PrivateKey.generate()
    public = public_raw(project_key.public_key())
    private = project_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    kid = key_id(public)
    client = SyncClient(server, insecure_http=insecure_http, ca_bundle=ca_bundle, **client_options)
    with client:
        check_server(client)
        reply = client.create_project(
            {
                "name": name,
                "public_key": b64(public),
                "key_id": kid,
                "coordinator": _device_keys(ws, device_name),
            },
            admin_token=admin_token,
        )
    save_enrolment(
        ws,
        server_url=client.base_url,
        token=str(reply["token"]),
        device_id=str(reply["device_id"]),
        project_id=str(reply["project_id"]),
        project_name=name,
        role=str(reply.get("role") or "coordinator"),
        insecure_http=insecure_http,
        # The private half stays in this encrypted workspace; the server never sees it.
        project_keys=[{"key_id": kid, "public_key": b64(public), "private_key": b64(private)}],
        ca_bundle=ca_bundle,
    )
    sealed = seal_pending(ws)
    return Enrolled(
        server=client.base_url,
        project_id=str(reply["project_id"]),
        project_name=name,
        device_id=str(reply["device_id"]),
        role=str(reply.get("role") or "coordinator"),
        forms=0,
        sealed=sealed,
    )


def approve_coordinator(
    ws: Workspace, device_id: str, *, server: str | None = None, **client_options: Any
) -> int:
    """Hand the project private key(s) to another coordinator device, HPKE-wrapped to its
    X25519 key, through the server (which only relays ciphertext). Returns keys granted."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
    )

    if not project_private_keys(ws):
        raise AuthError("this workspace holds no project key to hand on")
    info, client = open_client(ws, server=server, **client_options)
    with client:
        check_server(client)
        device = next((d for d in client.devices() if d.get("device_id") == device_id), None)
        if device is None:
            raise UsageError(
                f"no device {device_id} in this project (see `fieldkit server devices list`)"
            )
        if device.get("role") != "coordinator":
            raise UsageError(f"device {device_id} is not enrolled as a coordinator")
        if device.get("revoked"):
            raise UsageError(f"device {device_id} has been revoked")
        recipient = X25519PublicKey.from_public_bytes(base64.b64decode(device["x25519"]))
        granted = 0
        for private in project_private_keys(ws):
            raw = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
            kid = key_id(public_raw(private.public_key()))
            blob = wrap(raw, public_key=recipient, info=KEY_GRANT_INFO + kid.encode("ascii"))
            client.grant_key(
                {"device_id": device_id, "key_id": kid, "wrapped_private_key": b64(blob)}
            )
            granted += 1
    return granted


def publish_form(
    ws: Workspace,
    source: Path | dict[str, Any],
    *,
    server: str | None = None,
    **client_options: Any,
) -> dict[str, str]:
    """Coordinator: send a form (or a new version) to the project; devices get it on sync."""
    from fieldkit.forms import load_form, with_version

    if isinstance(source, Path):
        definition = dict(load_form(source).definition)
    else:
        definition = dict(source)
    # A form without a version gets the one `forms add` gives it (fieldkit.forms.versions).
    definition = with_version(definition)
    form_id = str(definition.get("id_string") or "").strip()
    version = str(definition["version"])
    if not form_id:
        where = source.name if isinstance(source, Path) else "the form"
        raise FormError(f"{where}: a published form needs a form_id (settings sheet)")
    ws.forms.add(definition)  # the coordinator's own workspace holds what it publishes
    body = {
        "form_id": form_id,
        "version": version,
        "title": str(definition.get("title") or form_id)[:500],
        "definition": definition,
    }
    info, client = open_client(ws, server=server, **client_options)
    with client:
        reply = client.publish_form(body)
    return {"form_id": form_id, "version": version, "status": str(reply.get("status", ""))}
