"""Console sign-in stand-in: global, in us-east-1, used by customers of every region.

ConsoleLogin = IAM Authenticate (the password check, against IAM's users in DynamoDB
us-east-1) -> STS GetFederationToken (the console session, issued from IAM's short-lived
token). Both are global and anchored in us-east-1, as the real sign-in endpoint is, so a
us-west-2 customer's console sign-in fails whenever IAM, STS or DynamoDB us-east-1 fails,
however healthy us-west-2 is: the failover the 2025 outage blocked. It keeps no state of
its own. A wrong password is UNAUTHENTICATED (IAM's answer), a failed dependency
UNAVAILABLE naming it, a malformed field INVALID_ARGUMENT before any call.
"""

from __future__ import annotations

from typing import Any

import grpc

from chaoslab_services.common import validation as v
from chaoslab_services.common.deps import DependencyError
from chaoslab_services.common.errors import ServiceError, invalid, unauthenticated
from chaoslab_services.common.server import Runtime, rpc
from chaoslab_services.protos import iam_pb2, sts_pb2
from chaoslab_services.protos import signin_pb2 as pb
from chaoslab_services.protos import signin_pb2_grpc as pb_grpc

MAX_SESSION = 12 * 3600
# IAM's token only proves the password to STS, so it is asked for a minute, not a session.
PROOF_SECONDS = 60


def _passed_through(err: DependencyError) -> ServiceError | None:
    """A dependency's answer about the caller (not about its own health) goes back as is."""
    if err.code == grpc.StatusCode.UNAUTHENTICATED:
        return unauthenticated(err.details)
    if err.code == grpc.StatusCode.PERMISSION_DENIED:
        return ServiceError(grpc.StatusCode.PERMISSION_DENIED, err.details)
    return None


class SignInServicer(pb_grpc.SignInServicer):
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.default_duration = int(runtime.settings.get("session_seconds", 3600))

    async def _call(self, key: str, method: str, request: Any) -> Any:
        try:
            return await self.runtime.call(key, method, request)
        except DependencyError as err:
            passed = _passed_through(err)
            if passed is not None:
                raise passed from None
            raise

    @rpc
    async def ConsoleLogin(self, request: pb.ConsoleLoginRequest) -> pb.ConsoleLoginResponse:
        v.name("user", request.user)
        v.text("secret", request.secret, required=True, limit=1024)
        duration = request.duration_seconds or self.default_duration
        if not 1 <= duration <= MAX_SESSION:
            raise invalid("duration_seconds", f"must be 1..{MAX_SESSION}, "
                                              f"got {request.duration_seconds}")
        proof = await self._call("iam", "Authenticate", iam_pb2.AuthenticateRequest(
            user=request.user, secret=request.secret, duration_seconds=PROOF_SECONDS))
        session = await self._call("sts", "GetFederationToken", sts_pb2.GetFederationTokenRequest(
            token=proof.token, duration_seconds=duration))
        return pb.ConsoleLoginResponse(token=session.token, expires_at=session.expires_at,
                                       principal=f"arn:aws:iam::000000000000:user/{request.user}")


def register(runtime: Runtime) -> list[tuple[Any, Any, str]]:
    return [(pb_grpc.add_SignInServicer_to_server, SignInServicer(runtime),
             "chaoslab.signin.v1.SignIn")]
