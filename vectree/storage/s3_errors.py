"""Which S3 failures (as obstore raises them) are worth retrying, how to name them in one line, and which
vectree error each becomes."""

from __future__ import annotations

import re

import obstore.exceptions as obx

from vectree.errors import NotFoundError, StorageError
from vectree.storage.retry import GaveUp

_PERMANENT = (
    obx.NotFoundError,
    obx.AlreadyExistsError,
    obx.PreconditionError,
    obx.PermissionDeniedError,
    obx.UnauthenticatedError,
    obx.InvalidPathError,
    obx.NotSupportedError,
    obx.UnknownConfigurationKeyError,
    obx.NotModifiedError,
    FileNotFoundError,
)
_STATUS = re.compile(r"status code: (\d{3})")


def is_transient(exc: BaseException) -> bool:
    """Whether retrying the request that raised ``exc`` may succeed."""
    if isinstance(exc, _PERMANENT):
        return False
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    if isinstance(exc, obx.BaseError):
        m = _STATUS.search(str(exc))
        if m is None:
            return True  # no HTTP status: connection refused/reset, timeout, truncated body
        status = int(m.group(1))
        return status >= 500 or status in (408, 429)
    return isinstance(exc, OSError)


_XML = re.compile(r"<(Code|Message|BucketName)>([^<]{1,300})</\1>")


def s3_code(exc: BaseException) -> str | None:
    """The S3 error code in the server's answer (``NoSuchBucket``, ``AccessDenied``...), if any.

    >>> s3_code(OSError("404: <Error><Code>NoSuchBucket</Code></Error>")), s3_code(OSError("reset"))
    ('NoSuchBucket', None)
    """
    codes = [v for k, v in _XML.findall(str(exc)) if k == "Code"]
    return codes[0] if codes else None


def short_message(exc: BaseException) -> str:
    r"""The first line of an obstore error (the rest is a Rust debug dump), plus the S3 error the server
    answered with (its code, message and bucket), which the first line cuts off.

    >>> short_message(OSError('404 Not Found: <?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchBucket</Code>'
    ...     '<Message>The specified bucket does not exist</Message><BucketName>b</BucketName></Error>'))
    "404 Not Found: S3 error NoSuchBucket: The specified bucket does not exist (bucket 'b')"
    """
    text = str(exc).strip().splitlines()
    first = text[0][:400] if text else type(exc).__name__
    fields = dict((k, v.strip()) for k, v in reversed(_XML.findall(str(exc))))
    if "Code" in fields and fields["Code"] not in first:
        first = first.removesuffix('<?xml version="1.0" encoding="UTF-8"?>').rstrip(": ")
        detail = f"S3 error {fields['Code']}"
        if "Message" in fields:
            detail += f": {fields['Message']}"
        if "BucketName" in fields:
            detail += f" (bucket {fields['BucketName']!r})"
        first = f"{first}: {detail}"
    return first


def translate(exc: BaseException, what: str, key: str, url: str, endpoint: str | None) -> Exception:
    """The vectree error for request ``what`` of ``key`` in ``url`` that failed with ``exc`` (retries spent:
    :class:`GaveUp`; a missing key or bucket: ``FileNotFoundError``; else an obstore error)."""
    where = endpoint or "AWS"
    if isinstance(exc, GaveUp):
        return StorageError(
            f"{what} {key!r} in {url} (endpoint {where}) failed after {exc.attempts} attempt(s) over "
            f"{exc.elapsed_s:.1f} s: {short_message(exc.last)}. "
            "Check that the server is up and reachable, or raise the retry budget (retry=...)."
        )
    if isinstance(exc, FileNotFoundError):
        if s3_code(exc) == "NoSuchBucket" or "NoSuchBucket" in str(exc):
            return StorageError(
                f"{what} {key!r} in {url} failed: the bucket does not exist (endpoint {where}): {short_message(exc)}"
            )
        return NotFoundError(f"object {key!r} not found in {url}")
    if isinstance(exc, (obx.PermissionDeniedError, obx.UnauthenticatedError)):
        return StorageError(
            f"{what} {key!r} in {url} was refused ({type(exc).__name__}): check the credentials "
            "(access_key_id/secret_access_key or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) and the bucket."
        )
    return StorageError(f"{what} {key!r} in {url} failed: {short_message(exc)}")
