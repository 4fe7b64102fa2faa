"""Authorisation through IAM, shared by Lambda and CloudWatch.

Every protected call asks ``iam`` (global, in us-east-1) for a decision; there is no local
decision cache, so an IAM outage -- or IAM's own DynamoDB outage -- reaches every tier in
every region, which is the cross-region coupling the lab exists to show.
"""

from __future__ import annotations

import time
from typing import Any

import grpc

from chaoslab_services.common import validation as v
from chaoslab_services.common.deps import DependencyError
from chaoslab_services.common.errors import ServiceError, unauthenticated
from chaoslab_services.protos import iam_pb2, sts_pb2

MAX_TOKEN = 256


async def authorize(runtime: Any, token: str, action: str, resource: str) -> str:
    """The caller's principal; UNAUTHENTICATED / PERMISSION_DENIED as IAM decides."""
    v.text("token", token)
    if not token:
        raise unauthenticated("token is required")
    if len(token) > MAX_TOKEN:
        raise unauthenticated("malformed token")
    try:
        resp = await runtime.call("iam", "Authorize", iam_pb2.AuthorizeRequest(
            token=token, action=action, resource=resource))
    except DependencyError as err:
        if err.code == grpc.StatusCode.UNAUTHENTICATED:
            raise unauthenticated(err.details) from None
        raise
    if not resp.allowed:
        raise ServiceError(grpc.StatusCode.PERMISSION_DENIED,
                           f"{resp.principal} may not {action} on {resource}: {resp.reason}")
    return resp.principal


class ServiceCredentials:
    """A service's own session token from STS, refreshed before it expires.

    A failed refresh keeps using the old token while it is still valid, so a short STS
    outage does not stop background work that already had credentials.
    """

    def __init__(self, runtime: Any, user: str, secret: str, duration: int = 3600) -> None:
        self.runtime = runtime
        self.user, self.secret, self.duration = user, secret, duration
        self._token = ""
        self._expires = 0.0

    async def token(self) -> str:
        now = time.time()
        if self._token and self._expires - now > max(60.0, 0.2 * self.duration):
            return self._token
        try:
            resp = await self.runtime.call("sts", "GetSessionToken", sts_pb2.GetSessionTokenRequest(
                user=self.user, secret=self.secret, duration_seconds=self.duration))
        except DependencyError:
            if self._token and self._expires > now:
                return self._token
            raise
        self._token, self._expires = resp.token, resp.expires_at
        return self._token
