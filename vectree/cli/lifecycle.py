"""Lifecycle commands: cleanup, tag, untag, tags."""

from __future__ import annotations

import typer
from rich.table import Table

import vectree
from vectree.cli.common import console, reports_errors
from vectree.cli.main import app


@app.command()
@reports_errors
def cleanup(
    url: str,
    older_than: str = typer.Option("7d", help="Delete versions older than this (90s, 30m, 2h, 7d, 1w)."),
    keep_versions: int = typer.Option(1, help="Always keep this many newest versions (at least 1)."),
    grace: str = typer.Option(
        "6h", help="Never delete an object written more recently than this: longer than your longest write."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Report what would be deleted; delete nothing."),
) -> None:
    """Delete old versions (never the newest, never a tagged one) and the files no kept version uses."""
    report = vectree.open_collection(url).cleanup(
        older_than=older_than, keep_versions=keep_versions, grace=grace, dry_run=dry_run
    )
    verb = "would delete" if dry_run else "deleted"
    console.print(
        f"{verb} {len(report.versions_deleted)} version(s) and {report.objects_deleted} object(s) "
        f"({report.bytes_deleted:,} bytes); kept {len(report.versions_kept)} version(s), "
        f"{report.objects_kept} object(s) ({report.bytes_kept:,} bytes)"
        + (
            f", {report.young_unreferenced} unreferenced but younger than the grace period"
            if report.young_unreferenced
            else ""
        )
    )


@app.command()
@reports_errors
def tag(
    url: str, name: str, version: int = typer.Argument(None, help="The version to tag (default: the newest).")
) -> None:
    """Name a version; tagged versions are never cleaned up; open one with --tag."""
    v = vectree.open_collection(url).tag(name, version)
    console.print(f"tag {name} -> version {v}")


@app.command()
@reports_errors
def untag(url: str, name: str) -> None:
    """Remove a tag (its version may then be cleaned up)."""
    vectree.open_collection(url).untag(name)
    console.print(f"removed tag {name}")


@app.command()
@reports_errors
def tags(url: str) -> None:
    """Every tag and the version it names."""
    found = vectree.open_collection(url).tags()
    table = Table("tag", "version")
    for name, v in sorted(found.items()):
        table.add_row(name, str(v))
    console.print(table)
