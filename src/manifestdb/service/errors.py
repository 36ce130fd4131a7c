"""Errors the service raises, named after the error shapes of Rekognition's service model.

Every exception that reaches a client is a `ServiceError`: the wire layer turns `code`, `status`
and `message` into an AWS JSON 1.1 error response (`__type`, `Message`, `X-Amzn-Errortype`).
"""

from __future__ import annotations

from typing import ClassVar


class ServiceError(Exception):
    """An error with an AWS error code, an HTTP status and a message for the user."""

    code: ClassVar[str] = "InternalServerError"
    status: ClassVar[int] = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# -- error shapes of the model (rekognition 2016-06-27) ---------------------------------------


class AccessDeniedException(ServiceError):
    code = "AccessDeniedException"


class CrossOriginRequestRefused(AccessDeniedException):
    """A console change without the console's header, or sent by a page of another origin."""

    status = 403


class ConflictException(ServiceError):
    """A console edit of a line that changed since the page loaded it (nothing is saved)."""

    code = "ConflictException"
    status = 409


class InvalidParameterException(ServiceError):
    code = "InvalidParameterException"


class InvalidPaginationTokenException(ServiceError):
    code = "InvalidPaginationTokenException"


class InvalidS3ObjectException(ServiceError):
    code = "InvalidS3ObjectException"


class LimitExceededException(ServiceError):
    code = "LimitExceededException"


class ResourceAlreadyExistsException(ServiceError):
    code = "ResourceAlreadyExistsException"


class ResourceInUseException(ServiceError):
    code = "ResourceInUseException"


class ResourceNotFoundException(ServiceError):
    code = "ResourceNotFoundException"


class ResourceNotReadyException(ServiceError):
    code = "ResourceNotReadyException"


class ImageTooLargeException(ServiceError):
    code = "ImageTooLargeException"


class InvalidImageFormatException(ServiceError):
    code = "InvalidImageFormatException"


class ProvisionedThroughputExceededException(ServiceError):
    code = "ProvisionedThroughputExceededException"


class ServiceQuotaExceededException(ServiceError):
    code = "ServiceQuotaExceededException"


class ThrottlingException(ServiceError):
    code = "ThrottlingException"
    status = 500


class InternalServerError(ServiceError):
    code = "InternalServerError"
    status = 500


# -- errors every AWS JSON service answers, outside the model's error shapes ------------------


class ValidationException(ServiceError):
    """The input does not satisfy the constraints of the model (required, type, length, ...)."""

    code = "ValidationException"


class SerializationException(ServiceError):
    """The body is not a JSON object, or a member has a type JSON cannot carry for its shape."""

    code = "SerializationException"


class UnknownOperationException(ServiceError):
    """The `X-Amz-Target` header is missing or names no operation of this service."""

    code = "UnknownOperationException"


class NotImplementedOperationException(ServiceError):
    """A real Rekognition operation that manifestdb does not serve (it serves datasets only)."""

    code = "UnsupportedOperationException"


# Authentication errors: AWS's JSON 1.1 services answer each with HTTP 400 (DynamoDB documents the
# same codes under 400), unlike the REST services behind API Gateway (403).


class MissingAuthenticationTokenException(ServiceError):
    """No `Authorization` header (auth sigv4)."""

    code = "MissingAuthenticationTokenException"


class IncompleteSignatureException(ServiceError):
    """An `Authorization` header or `X-Amz-Date` that is not a well-formed SigV4 signature."""

    code = "IncompleteSignatureException"


class UnrecognizedClientException(ServiceError):
    """An access key that is not in the auth file (or temporary credentials)."""

    code = "UnrecognizedClientException"


class InvalidSignatureException(ServiceError):
    """A signature that does not match, a wrong credential scope, or a stale `X-Amz-Date`."""

    code = "InvalidSignatureException"


class RequestEntityTooLargeException(ServiceError):
    code = "RequestEntityTooLargeException"
    status = 413


# -- errors of the transport: the request did not arrive whole --------------------------------


class RequestTimeoutException(ServiceError):
    """The body did not arrive within the request timeout (botocore retries this code)."""

    code = "RequestTimeoutException"
    status = 408


class ClientClosedRequest(ServiceError):
    """The client went away before its body was read: logged as 499 (nginx's name), not 500."""

    code = "ClientClosedRequest"
    status = 499
