"""What every command shares: the two consoles, how an error reaches the user, the --storage-options parser.

An error is one line on stderr (``error: ...``, never wrapped, never read as rich markup) and exit code 2.
Commands do not catch errors themselves: they are decorated with :func:`reports_errors`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar, overload

import typer
from rich.console import Console
from rich.markup import escape

from vectree.errors import InvalidInputError, VectreeError

console = Console()
err = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


def fail(exc: BaseException) -> NoReturn:
    """Print ``exc`` as one line on stderr and exit with code 2."""
    message = " ".join(str(exc).split()) or type(exc).__name__
    err.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code=2)


@overload
def reports_errors(command: F, /) -> F: ...
@overload
def reports_errors(*, also: tuple[type[Exception], ...] = ()) -> Callable[[F], F]: ...
def reports_errors(command: F | None = None, /, *, also: tuple[type[Exception], ...] = ()) -> Any:
    """Decorate a command so that a :class:`VectreeError` (or one of ``also``) ends it through :func:`fail`.

    Put it under ``@app.command()``: Typer reads the parameters of the function it wraps.

    >>> @reports_errors(also=(ValueError,))
    ... def parse(text: str) -> int:
    ...     return int(text)
    >>> parse("3")
    3
    >>> parse("three")
    Traceback (most recent call last):
    ...
    typer.exceptions.Exit
    """
    caught = (VectreeError, *also)

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except caught as exc:
                fail(exc)

        return run  # type: ignore[return-value]

    return wrap if command is None else wrap(command)


def parse_storage_options(text: str | None) -> dict[str, Any]:
    """The ``--storage-options`` JSON object (``{}`` when not given).

    >>> parse_storage_options('{"endpoint_url": "http://127.0.0.1:8333"}')
    {'endpoint_url': 'http://127.0.0.1:8333'}
    >>> parse_storage_options(None)
    {}
    """
    try:
        options = json.loads(text) if text else {}
    except ValueError as exc:
        raise InvalidInputError(f"--storage-options must be a JSON object: {exc}") from None
    if not isinstance(options, dict):
        raise InvalidInputError(f"--storage-options must be a JSON object, got {text!r}")
    return options
