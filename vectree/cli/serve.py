"""``vectree serve ROOT`` (the HTTP service), ``vectree keys create|list|revoke ROOT`` and ``vectree import``."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import typer
from rich.console import Console
from rich.table import Table

from vectree.cli.main import app
from vectree.errors import VectreeError

console = Console()
err = Console(stderr=True)
keys_app = typer.Typer(help="API keys of a service root: create (printed once), list, revoke.", no_args_is_help=True)


def _options(storage_options: str | None) -> dict:
    try:
        return json.loads(storage_options) if storage_options else {}
    except ValueError as exc:
        err.print(f"[red]error:[/red] --storage-options must be a JSON object: {exc}")
        raise typer.Exit(code=2) from None


def _store(root: str, storage_options: str | None):  # noqa: ANN202
    from vectree.storage.url import open_store

    return open_store(root, **_options(storage_options))


@app.command()
def serve(
    root: str = typer.Argument(..., help="Where the service keeps keys and collections: a path or s3://bucket/prefix."),
    host: str = typer.Option("127.0.0.1", help="Interface to listen on (loopback by default)."),
    port: int = typer.Option(8080, help="TCP port."),
    workers: int = typer.Option(1, help="Worker processes (they share nothing but ROOT)."),
    rate: float = typer.Option(200.0, help="Requests per second per tenant, for the whole service."),
    burst: float = typer.Option(400.0, help="Requests a tenant may send at once."),
    max_body_mb: float = typer.Option(64.0, help="Largest request body (MiB); past it: 413."),
    max_batch: int = typer.Option(10_000, help="Most rows per write, queries per search."),
    max_k: int = typer.Option(1000, help="Largest k (and probes) of a search."),
    storage_options: str = typer.Option(None, help="JSON object of store options (for S3: endpoint_url, ...)."),
    log_level: str = typer.Option("warning", help="uvicorn log level."),
) -> None:
    """Serve the collections under ROOT over HTTP (API at /docs, console at /)."""
    from vectree.service.app import serve as run
    from vectree.service.config import ServiceConfig

    config = ServiceConfig(root=root, storage_options=_options(storage_options), workers=workers, rate_per_s=rate, burst=burst,
                           max_body_bytes=int(max_body_mb * (1 << 20)), max_batch=max_batch, max_k=max_k)
    err.print(f"vectree service on http://{host}:{port} ({workers} worker(s)), root {root}")
    run(config, host=host, port=port, log_level=log_level)


@keys_app.command("create")
def keys_create(
    root: str = typer.Argument(..., help="The service root."),
    tenant: str = typer.Option(..., help="The tenant the key acts for."),
    admin: bool = typer.Option(False, "--admin", help="The key sees and changes every tenant's collections."),
    read_only: bool = typer.Option(False, "--read-only", help="The key can read but never write."),
    storage_options: str = typer.Option(None, help="JSON object of store options."),
) -> None:
    """Make a key and print it once (only a salted hash is stored)."""
    from vectree.service.tenants import create_key

    try:
        key, rec = create_key(_store(root, storage_options), tenant, admin=admin, read_only=read_only)
    except VectreeError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=2) from None
    err.print(f"key {rec['key_id']} for tenant {tenant!r}{' (admin)' if admin else ''}{' (read-only)' if read_only else ''}; "
              "it is shown only now:")
    print(key)


@keys_app.command("list")
def keys_list(root: str = typer.Argument(..., help="The service root."), storage_options: str = typer.Option(None)) -> None:
    """Every key: id, tenant, rights, created, revoked (never the key itself)."""
    from vectree.service.tenants import list_keys

    table = Table("key_id", "tenant", "admin", "read_only", "created", "revoked")
    for rec in list_keys(_store(root, storage_options)):
        created = datetime.fromtimestamp(rec["created"], timezone.utc).strftime("%Y-%m-%d %H:%M")
        table.add_row(rec["key_id"], rec["tenant"], str(rec["admin"]), str(rec["read_only"]), created, str(rec["revoked"]))
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(root: str = typer.Argument(...), key_id: str = typer.Argument(..., help="The key's id (`keys list`)."),
                storage_options: str = typer.Option(None)) -> None:
    """Stop a key from working (within seconds on every server process)."""
    from vectree.service.tenants import revoke_key

    try:
        revoke_key(_store(root, storage_options), key_id)
    except VectreeError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=2) from None
    err.print(f"revoked {key_id}")


@app.command("import")
def import_collection(
    root: str = typer.Argument(..., help="The service root."),
    name: str = typer.Argument(..., help="The name the collection gets in the service."),
    source: str = typer.Argument(..., help="An existing collection (e.g. a fitted classifier's) to copy in."),
    tenant: str = typer.Option(..., help="The owner tenant."),
    private: bool = typer.Option(False, "--private", help="Invisible to other tenants."),
    storage_options: str = typer.Option(None),
) -> None:
    """Copy a collection (with its embedder, classifier or recommender) into a service root."""
    from vectree.service.registry import Registry

    try:
        Registry(root, _options(storage_options)).adopt(name, tenant, source, private=private)
    except VectreeError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=2) from None
    err.print(f"imported {source} as {name!r} (owner {tenant!r}{', private' if private else ''})")
