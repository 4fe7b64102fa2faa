"""KMS stand-in: per-key HMAC-SHA256 signing keys, addressed by key id or alias.

No dependencies. IAM signs every session token here, so a KMS outage (or a DNS fault on
``kms.us-east-1.aws.internal``) stops logins while already-issued tokens keep working.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from typing import Any

import grpc

from chaoslab_services.common import validation as v
from chaoslab_services.common.errors import ServiceError, invalid, not_found
from chaoslab_services.common.server import Runtime, rpc
from chaoslab_services.protos import kms_pb2 as pb
from chaoslab_services.protos import kms_pb2_grpc as pb_grpc

MAX_KEYS = 10_000


class KMSServicer(pb_grpc.KMSServicer):
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.keys: dict[str, bytes] = {}
        self.aliases: dict[str, str] = {}

    def _arn(self, key_id: str) -> str:
        return f"arn:aws:kms:{self.runtime.region}:000000000000:key/{key_id}"

    def _resolve(self, key_id: str) -> tuple[str, bytes]:
        v.name("key_id", key_id)
        if key_id.startswith("alias/"):
            resolved = self.aliases.get(key_id)
            if resolved is None:
                raise not_found(f"alias {key_id!r} not found")
            key_id = resolved
        secret = self.keys.get(key_id)
        if secret is None:
            raise not_found(f"key {key_id!r} not found")
        return key_id, secret

    @rpc
    async def CreateKey(self, request: pb.CreateKeyRequest) -> pb.CreateKeyResponse:
        alias = request.alias
        if alias:
            v.name("alias", alias)
            if not alias.startswith("alias/") or len(alias) <= len("alias/"):
                raise invalid("alias", f"must look like 'alias/<name>', got {alias[:64]!r}")
            existing = self.aliases.get(alias)
            if existing is not None:
                return pb.CreateKeyResponse(key_id=existing, arn=self._arn(existing), created=False)
        v.text("description", request.description, limit=8192)
        if len(self.keys) >= MAX_KEYS:
            raise ServiceError(grpc.StatusCode.RESOURCE_EXHAUSTED,
                               f"key limit ({MAX_KEYS}) reached")
        key_id = str(uuid.uuid4())
        self.keys[key_id] = secrets.token_bytes(32)
        if alias:
            self.aliases[alias] = key_id
        return pb.CreateKeyResponse(key_id=key_id, arn=self._arn(key_id), created=True)

    @rpc
    async def Sign(self, request: pb.SignRequest) -> pb.SignResponse:
        key_id, secret = self._resolve(request.key_id)
        v.text("message", request.message, required=True)
        sig = hmac.new(secret, request.message, hashlib.sha256).digest()
        return pb.SignResponse(key_id=key_id, signature=sig)

    @rpc
    async def Verify(self, request: pb.VerifyRequest) -> pb.VerifyResponse:
        _key_id, secret = self._resolve(request.key_id)
        v.text("message", request.message, required=True)
        v.text("signature", request.signature, required=True, limit=1024)
        expected = hmac.new(secret, request.message, hashlib.sha256).digest()
        return pb.VerifyResponse(valid=hmac.compare_digest(expected, request.signature))


def register(runtime: Runtime) -> list[tuple[Any, Any, str]]:
    return [(pb_grpc.add_KMSServicer_to_server, KMSServicer(runtime), "chaoslab.kms.v1.KMS")]
