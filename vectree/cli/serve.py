"""``vectree serve ROOT`` (the HTTP service) and ``vectree import`` (``vectree keys`` is in :mod:`vectree.cli.keys`)."""

from __future__ import annotations

import typer

from vectree.cli.common import err, parse_storage_options, reports_errors
from vectree.cli.main import app


@app.command()
@reports_errors
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
    refresh_s: float = typer.Option(
        1.0, help="Seconds between moves of the open collections to their newest versions (0: off)."
    ),
) -> None:
    """Serve the collections under ROOT over HTTP (API at /docs, console at /)."""
    from vectree.service.app import serve as run
    from vectree.service.config import ServiceConfig

    config = ServiceConfig(
        root=root,
        storage_options=parse_storage_options(storage_options),
        workers=workers,
        rate_per_s=rate,
        burst=burst,
        max_body_bytes=int(max_body_mb * (1 << 20)),
        max_batch=max_batch,
        max_k=max_k,
        refresh_s=refresh_s,
    )
    err.print(f"vectree service on http://{host}:{port} ({workers} worker(s)), root {root}")
    run(config, host=host, port=port, log_level=log_level)


@app.command("import")
@reports_errors
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

    Registry(root, parse_storage_options(storage_options)).adopt(name, tenant, source, private=private)
    err.print(f"imported {source} as {name!r} (owner {tenant!r}{', private' if private else ''})")
