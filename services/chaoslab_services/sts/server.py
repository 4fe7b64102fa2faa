"""STS stand-in: global, in us-east-1, a process of its own on IAM's identity store.

Why its own process: in October 2025 STS failed on its own schedule (recovered 1:19 AM,
then a second impact 8:31-9:59 AM), and a name can only fail on its own if a process of
its own answers it: a DNS fault on ``sts.aws.internal`` alone then breaks exactly the
paths that need STS (the console sign-in, services' own credentials) and not IAM's. It
shares IAM's state rather than calling IAM: users, roles and sessions in
``dynamodb.us-east-1``, signatures from ``kms.us-east-1`` (``iam.server.Identity``), so a
session STS issues is one IAM's Authorize accepts, and DynamoDB us-east-1 still takes both
down. GetSessionToken: user + secret -> session; GetFederationToken: a valid token -> a
new session for its caller (the console's); GetCallerIdentity: token -> who.
"""

from __future__ import annotations

from typing import Any

from chaoslab_services.common.server import Runtime, rpc
from chaoslab_services.iam.server import Identity
from chaoslab_services.protos import sts_pb2, sts_pb2_grpc


class STSServicer(sts_pb2_grpc.STSServicer):
    def __init__(self, runtime: Runtime, identity: Identity) -> None:
        self.runtime = runtime
        self.identity = identity

    @rpc
    async def GetSessionToken(self, request: sts_pb2.GetSessionTokenRequest
                              ) -> sts_pb2.GetSessionTokenResponse:
        token, expires = await self.identity.login(request.user, request.secret,
                                                   request.duration_seconds)
        return sts_pb2.GetSessionTokenResponse(token=token, expires_at=expires)

    @rpc
    async def GetCallerIdentity(self, request: sts_pb2.GetCallerIdentityRequest
                                ) -> sts_pb2.GetCallerIdentityResponse:
        session = await self.identity.session(request.token)
        return sts_pb2.GetCallerIdentityResponse(user=session["user"], arn=session["arn"],
                                                 role=session["role"])

    @rpc
    async def GetFederationToken(self, request: sts_pb2.GetFederationTokenRequest
                                 ) -> sts_pb2.GetSessionTokenResponse:
        token, expires, _arn = await self.identity.federate(request.token,
                                                            request.duration_seconds)
        return sts_pb2.GetSessionTokenResponse(token=token, expires_at=expires)


def register(runtime: Runtime) -> list[tuple[Any, Any, str]]:
    return [(sts_pb2_grpc.add_STSServicer_to_server, STSServicer(runtime, Identity(runtime)),
             "chaoslab.sts.v1.STS")]
