"""Errors a handler raises on purpose; the server turns them into gRPC statuses."""

from __future__ import annotations

import grpc


class ServiceError(Exception):
    """A deliberate gRPC status (not a crash): the request or a dependency was at fault."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def invalid(field: str, why: str) -> ServiceError:
    """INVALID_ARGUMENT naming the offending field, as the API contract promises."""
    return ServiceError(grpc.StatusCode.INVALID_ARGUMENT, f"{field}: {why}")


def not_found(what: str) -> ServiceError:
    return ServiceError(grpc.StatusCode.NOT_FOUND, what)


def unauthenticated(why: str) -> ServiceError:
    return ServiceError(grpc.StatusCode.UNAUTHENTICATED, why)


class ConfigError(Exception):
    """A bad or missing setting; the command line prints it and exits non-zero."""
