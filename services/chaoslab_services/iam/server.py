"""IAM stand-in: global, anchored in us-east-1, with all state in DynamoDB.

Authenticate reads the user and role from ``dynamodb.<region>``, signs a session with
``kms.<region>`` and stores it in DynamoDB; Authorize looks the session up in DynamoDB on
every call (no local cache, as the incident showed: when IAM's DynamoDB endpoint stopped
resolving, logins and authorisation checks failed everywhere, in every region). `Identity`
is the identity store's logic, shared with STS (``chaoslab_services.sts``), a process of its
own on the same tables, so a session either issues is one the other accepts. Tokens:
``v1.<session id>.<signature>``.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import hmac
import json
import re
import secrets
import time
from typing import Any

import grpc

from chaoslab_services.common import validation as v
from chaoslab_services.common.config import parse_duration
from chaoslab_services.common.deps import DependencyError
from chaoslab_services.common.errors import ServiceError, invalid, not_found, unauthenticated
from chaoslab_services.common.server import Runtime, rpc
from chaoslab_services.common.tables import Tables
from chaoslab_services.protos import iam_pb2 as pb
from chaoslab_services.protos import iam_pb2_grpc as pb_grpc
from chaoslab_services.protos import kms_pb2

USERS, ROLES, SESSIONS = "iam-users", "iam-roles", "iam-sessions"
TOKEN_RE = re.compile(r"v1\.([0-9a-f]{32})\.([A-Za-z0-9_-]{20,100})")
ACTION_RE = re.compile(r"\*|[a-z0-9*-]+:[A-Za-z0-9*]+")
MAX_SESSION = 12 * 3600


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hash_secret(salt: str, secret: str) -> str:
    return hashlib.sha256(f"{salt}:{secret}".encode()).hexdigest()


def evaluate(statements: list[dict[str, Any]], action: str, resource: str) -> tuple[bool, str]:
    """IAM semantics: an explicit Deny wins, then any Allow, else an implicit deny."""
    allowed = False
    for st in statements:
        if any(fnmatch.fnmatchcase(action, a) for a in st["actions"]) and \
                any(fnmatch.fnmatchcase(resource, r) for r in st["resources"]):
            if st["effect"] == "Deny":
                return False, "explicit deny"
            allowed = True
    return (True, "allowed by policy") if allowed else (False, "no statement allows this action")


class Identity:
    """The shared logic of IAM and STS: users, sessions, token checks (one store)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.region = runtime.region
        self.ddb = Tables(runtime, f"dynamodb.{runtime.region}", {SESSIONS: "expires_at"})
        self.kms_key = str(runtime.settings.get("kms_key", "alias/iam-tokens"))
        self.default_ttl = parse_duration(runtime.settings.get("token_ttl", "15m"),
                                          "settings.token_ttl")

    def arn(self, kind: str, name: str) -> str:
        return f"arn:aws:iam::000000000000:{kind}/{name}"

    async def sign(self, message: bytes) -> bytes:
        """KMS Sign; creates the key on first use so a fresh lab needs no bootstrap for it."""
        kms = f"kms.{self.region}"
        try:
            resp = await self.runtime.call(kms, "Sign", kms_pb2.SignRequest(
                key_id=self.kms_key, message=message))
        except DependencyError as err:
            if err.code != grpc.StatusCode.NOT_FOUND:
                raise
            await self.runtime.call(kms, "CreateKey", kms_pb2.CreateKeyRequest(
                alias=self.kms_key, description="IAM session tokens"))
            resp = await self.runtime.call(kms, "Sign", kms_pb2.SignRequest(
                key_id=self.kms_key, message=message))
        return resp.signature

    async def login(self, user: str, secret: str, duration: int) -> tuple[str, float]:
        v.name("user", user)
        v.text("secret", secret, required=True, limit=1024)
        if duration and not 1 <= duration <= MAX_SESSION:
            raise invalid("duration_seconds", f"must be 1..{MAX_SESSION}, got {duration}")
        record = await self.ddb.get(USERS, user)
        if record is None or not hmac.compare_digest(
                record.get("secret_hash", ""), _hash_secret(record.get("salt", ""), secret)):
            raise unauthenticated("invalid user or secret")
        role = await self.ddb.get(ROLES, record.get("role", ""))
        if role is None:
            raise ServiceError(grpc.StatusCode.PERMISSION_DENIED,
                               f"role {record.get('role')!r} of user {user!r} no longer exists")
        return await self.issue(user, record["role"], role["policy"], duration)

    async def federate(self, token: str, duration: int) -> tuple[str, float, str]:
        """A new session for the caller of a valid ``token`` (STS GetFederationToken);
        returns it with the caller's arn."""
        if duration and not 1 <= duration <= MAX_SESSION:
            raise invalid("duration_seconds", f"must be 1..{MAX_SESSION}, got {duration}")
        parent = await self.session(token)
        token, expires = await self.issue(parent["user"], parent["role"], parent["policy"],
                                          duration)
        return token, expires, parent["arn"]

    async def issue(self, user: str, role: str, policy: str, duration: int) -> tuple[str, float]:
        """Signs and stores one session (KMS Sign, DynamoDB PutItem)."""
        session_id = secrets.token_hex(16)
        expires = time.time() + (duration or self.default_ttl)
        payload = f"{session_id}|{user}|{expires:.3f}".encode()
        signature = _b64(await self.sign(payload))
        await self.ddb.put(SESSIONS, session_id, {
            "user": user, "arn": self.arn("user", user), "role": role,
            "policy": policy, "expires_at": f"{expires:.3f}", "sig": signature,
        }, not_exists=True)
        return f"v1.{session_id}.{signature}", expires

    async def session(self, token: str) -> dict[str, str]:
        """The stored session of a token; UNAUTHENTICATED when invalid or expired."""
        if not token:
            raise unauthenticated("token is required")
        if len(token) > 256:
            raise unauthenticated("malformed token")
        match = TOKEN_RE.fullmatch(token)
        if match is None:
            raise unauthenticated("malformed token")
        item = await self.ddb.get(SESSIONS, match.group(1))
        if item is None or not hmac.compare_digest(item.get("sig", ""), match.group(2)):
            raise unauthenticated("invalid token")
        if float(item.get("expires_at", "0")) <= time.time():
            raise unauthenticated("token expired")
        return item


class IAMServicer(pb_grpc.IAMServicer):
    def __init__(self, runtime: Runtime, identity: Identity) -> None:
        self.runtime = runtime
        self.identity = identity

    @rpc
    async def CreateRole(self, request: pb.CreateRoleRequest) -> pb.CreateRoleResponse:
        v.name("name", request.name, max_len=64)
        if not request.statements:
            raise invalid("statements", "at least one statement is required")
        if len(request.statements) > 100:
            raise invalid("statements", "at most 100 statements")
        statements = []
        for i, st in enumerate(request.statements):
            where = f"statements[{i}]"
            v.one_of(f"{where}.effect", st.effect, ("Allow", "Deny"))
            if not st.actions:
                raise invalid(f"{where}.actions", "at least one action is required")
            if not st.resources:
                raise invalid(f"{where}.resources", "at least one resource is required")
            for j, action in enumerate(st.actions):
                if len(action) > 128 or not ACTION_RE.fullmatch(action):
                    raise invalid(f"{where}.actions[{j}]",
                                  f"malformed action {action[:64]!r}: use 'service:Action'")
            for j, resource in enumerate(st.resources):
                v.key(f"{where}.resources[{j}]", resource)
            statements.append({"effect": st.effect, "actions": list(st.actions),
                               "resources": list(st.resources)})
        arn = self.identity.arn("role", request.name)
        await self.identity.ddb.put(ROLES, request.name,
                                    {"arn": arn, "policy": json.dumps(statements)})
        return pb.CreateRoleResponse(arn=arn)

    @rpc
    async def CreateUser(self, request: pb.CreateUserRequest) -> pb.CreateUserResponse:
        v.name("name", request.name, max_len=64)
        v.text("secret", request.secret, required=True, limit=1024)
        v.name("role", request.role, max_len=64)
        if await self.identity.ddb.get(ROLES, request.role) is None:
            raise not_found(f"role {request.role!r} not found")
        salt = secrets.token_hex(8)
        arn = self.identity.arn("user", request.name)
        await self.identity.ddb.put(USERS, request.name, {
            "arn": arn, "role": request.role, "salt": salt,
            "secret_hash": _hash_secret(salt, request.secret)})
        return pb.CreateUserResponse(arn=arn)

    @rpc
    async def Authenticate(self, request: pb.AuthenticateRequest) -> pb.AuthenticateResponse:
        token, expires = await self.identity.login(request.user, request.secret,
                                                   request.duration_seconds)
        return pb.AuthenticateResponse(token=token, expires_at=expires)

    @rpc
    async def Authorize(self, request: pb.AuthorizeRequest) -> pb.AuthorizeResponse:
        if not request.action or len(request.action) > 128 \
                or not ACTION_RE.fullmatch(request.action) or "*" in request.action:
            raise invalid("action", f"malformed action {request.action[:64]!r}: "
                                    "use 'service:Action'")
        v.key("resource", request.resource)
        session = await self.identity.session(request.token)
        allowed, reason = evaluate(json.loads(session["policy"]), request.action, request.resource)
        return pb.AuthorizeResponse(allowed=allowed, principal=session["arn"], reason=reason)


def register(runtime: Runtime) -> list[tuple[Any, Any, str]]:
    return [(pb_grpc.add_IAMServicer_to_server, IAMServicer(runtime, Identity(runtime)),
             "chaoslab.iam.v1.IAM")]
