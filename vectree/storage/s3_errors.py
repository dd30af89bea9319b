"""Which S3 failures (as obstore raises them) are worth retrying, and how to name them in one line."""

from __future__ import annotations

import re

import obstore.exceptions as obx

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


def short_message(exc: BaseException) -> str:
    """The first line of an obstore error (the rest is a Rust debug dump)."""
    text = str(exc).strip().splitlines()
    return text[0][:400] if text else type(exc).__name__
