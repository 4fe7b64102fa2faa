"""S3 stand-in: buckets of objects in memory. Lambda fetches function code from here on
every cold start, so an S3 (or S3 DNS) fault shows up as failed cold starts only."""

from __future__ import annotations

import hashlib
from typing import Any

import grpc

from chaoslab_services.common import validation as v
from chaoslab_services.common.errors import ServiceError, not_found
from chaoslab_services.common.server import Runtime, rpc
from chaoslab_services.protos import s3_pb2 as pb
from chaoslab_services.protos import s3_pb2_grpc as pb_grpc

MAX_BUCKETS = 1000
MAX_BYTES = 512 * 1024 * 1024   # per process, all objects


class S3Servicer(pb_grpc.S3Servicer):
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.buckets: dict[str, dict[str, tuple[bytes, str, str]]] = {}
        self.bytes = 0

    def _bucket(self, name: str) -> dict[str, tuple[bytes, str, str]]:
        v.name("bucket", name)
        bucket = self.buckets.get(name)
        if bucket is None:
            raise not_found(f"bucket {name!r} not found")
        return bucket

    @rpc
    async def CreateBucket(self, request: pb.CreateBucketRequest) -> pb.CreateBucketResponse:
        v.name("bucket", request.bucket)
        if request.bucket in self.buckets:
            return pb.CreateBucketResponse(created=False)
        if len(self.buckets) >= MAX_BUCKETS:
            raise ServiceError(grpc.StatusCode.RESOURCE_EXHAUSTED,
                               f"bucket limit ({MAX_BUCKETS}) reached")
        self.buckets[request.bucket] = {}
        return pb.CreateBucketResponse(created=True)

    @rpc
    async def PutObject(self, request: pb.PutObjectRequest) -> pb.PutObjectResponse:
        bucket = self._bucket(request.bucket)
        v.key("key", request.key)
        v.text("body", request.body)
        v.text("content_type", request.content_type, limit=255)
        old = bucket.get(request.key)
        grow = len(request.body) - (len(old[0]) if old else 0)
        if self.bytes + grow > MAX_BYTES:
            raise ServiceError(grpc.StatusCode.RESOURCE_EXHAUSTED, "storage limit reached")
        etag = hashlib.md5(request.body, usedforsecurity=False).hexdigest()
        bucket[request.key] = (bytes(request.body), etag, request.content_type)
        self.bytes += grow
        return pb.PutObjectResponse(etag=etag)

    @rpc
    async def GetObject(self, request: pb.GetObjectRequest) -> pb.GetObjectResponse:
        bucket = self._bucket(request.bucket)
        v.key("key", request.key)
        obj = bucket.get(request.key)
        if obj is None:
            raise not_found(f"object s3://{request.bucket}/{request.key} not found")
        return pb.GetObjectResponse(body=obj[0], etag=obj[1], content_type=obj[2])


def register(runtime: Runtime) -> list[tuple[Any, Any, str]]:
    return [(pb_grpc.add_S3Servicer_to_server, S3Servicer(runtime), "chaoslab.s3.v1.S3")]
