"""``vectree keys create|list|revoke ROOT``: the API keys of a service root."""

from __future__ import annotations

from datetime import UTC, datetime

import typer
from rich.table import Table

from vectree.cli.common import console, err, parse_storage_options, reports_errors

app = typer.Typer(help="API keys of a service root: create (printed once), list, revoke.", no_args_is_help=True)


def _store(root: str, options: str | None):  # noqa: ANN202
    from vectree.storage.url import open_store

    return open_store(root, **parse_storage_options(options))


@app.command("create")
@reports_errors
def keys_create(
    root: str = typer.Argument(..., help="The service root."),
    tenant: str = typer.Option(..., help="The tenant the key acts for."),
    admin: bool = typer.Option(False, "--admin", help="The key sees and changes every tenant's collections."),
    read_only: bool = typer.Option(False, "--read-only", help="The key can read but never write."),
    storage_options: str = typer.Option(None, help="JSON object of store options."),
) -> None:
    """Make a key and print it once (only a salted hash is stored)."""
    from vectree.service.tenants import create_key

    key, rec = create_key(_store(root, storage_options), tenant, admin=admin, read_only=read_only)
    err.print(
        f"key {rec['key_id']} for tenant {tenant!r}{' (admin)' if admin else ''}{' (read-only)' if read_only else ''}; "
        "it is shown only now:"
    )
    print(key)


@app.command("list")
@reports_errors
def keys_list(
    root: str = typer.Argument(..., help="The service root."), storage_options: str = typer.Option(None)
) -> None:
    """Every key: id, tenant, rights, created, revoked (never the key itself)."""
    from vectree.service.tenants import list_keys

    table = Table("key_id", "tenant", "admin", "read_only", "created", "revoked")
    for rec in list_keys(_store(root, storage_options)):
        created = datetime.fromtimestamp(rec["created"], UTC).strftime("%Y-%m-%d %H:%M")
        table.add_row(
            rec["key_id"], rec["tenant"], str(rec["admin"]), str(rec["read_only"]), created, str(rec["revoked"])
        )
    console.print(table)


@app.command("revoke")
@reports_errors
def keys_revoke(
    root: str = typer.Argument(...),
    key_id: str = typer.Argument(..., help="The key's id (`keys list`)."),
    storage_options: str = typer.Option(None),
) -> None:
    """Stop a key from working (within seconds on every server process)."""
    from vectree.service.tenants import revoke_key

    revoke_key(_store(root, storage_options), key_id)
    err.print(f"revoked {key_id}")
