"""``effecthost blobs sweep``: delete the large values (kept by reference, Temporal's claim
check) that no workflow history refers to any more."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from .common import JsonOption, Mode, console, emit_json, run

blobs_app = typer.Typer(
    help="The blob store of large values kept by reference (Temporal, docs/temporal.md).",
    no_args_is_help=True,
)


@blobs_app.command("sweep")
def sweep(
    url: Annotated[
        str,
        typer.Option(
            envvar="EFFECTHOST_URL",
            help="The Temporal namespace whose histories refer to the blobs: temporal://HOST:PORT?namespace=NS.",
        ),
    ],
    directory: Annotated[
        str | None,
        typer.Option(
            "--dir",
            envvar="EFFECTHOST_TEMPORAL_BLOBS",
            help="The blob store's directory (every worker's $EFFECTHOST_TEMPORAL_BLOBS).",
        ),
    ] = None,
    grace: Annotated[
        float,
        typer.Option(
            help="Keep a blob written within this many seconds even if no history refers to it yet.",
        ),
    ] = 86400.0,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would go; delete nothing.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Delete the blobs no history of the namespace refers to any more, once older than --grace.

    Every workflow history the namespace keeps is read (one read per workflow run), so run it
    now and then, off the busy hours. A turn's blobs go once Temporal's retention has dropped
    its closed workflow; the value of a worker that died before recording it goes too."""

    async def go() -> Any:
        from ..engines.temporal import sweep_blob_store  # extra_not_installed without the extra

        Mode.temporal_used = True
        return await sweep_blob_store(url, directory, grace_s=grace, dry_run=dry_run)

    done = run(go())
    if as_json:
        emit_json(done.to_json())
        return
    verb = "would delete" if done.dry_run else "deleted"
    console.print(
        f"{done.stored} blobs, {done.referenced} referenced by {done.histories} histories,"
        f" {done.recent} too recent to judge; {verb} {done.deleted} ({done.freed_bytes} bytes)",
        markup=False,
    )
