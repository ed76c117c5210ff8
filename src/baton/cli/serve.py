"""The control plane: `baton serve`, and API tokens (`baton token create|list|revoke`)."""

from __future__ import annotations

import ipaddress
import json
import socket
from typing import Any

import click
from rich.table import Table

from ..config.loading import load_playbook
from ..core.vocabulary import AUTH_LOG
from ..errors import InputError
from ..services import auth
from ..store.base import Store
from .app import Context, main, pass_context, whoami


def is_loopback(host: str) -> bool:
    """Whether `host` names only this machine (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            return all(
                ipaddress.ip_address(a[4][0]).is_loopback for a in socket.getaddrinfo(host, None)
            )
        except OSError:
            return False


@main.command("serve")
@click.argument("playbooks", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@pass_context
def serve_cmd(ctx: Context, playbooks: tuple[str, ...], host: str, port: int) -> None:
    """The HTTP API and the web dashboard over this store (the one the workers use).

    PLAYBOOKS are those items can be submitted to from the API. Without any token
    (`baton token create`) the server answers only on loopback, as the local user; it
    refuses to listen beyond loopback until access control is configured.
    """
    import uvicorn

    from ..api import create_app

    books = [load_playbook(p, state_dir=ctx.state_dir) for p in playbooks]
    loopback = is_loopback(host)

    async def check(store: Store) -> int:
        live = [
            t for t in auth.tokens_of(await store.load(AUTH_LOG)).values() if t.revoked_at is None
        ]
        return len(live)

    tokens = ctx.run(check, create=True)
    if not loopback and tokens == 0:
        raise InputError(
            f"--host: refusing to listen on {host} (beyond loopback) without access control: "
            "create a token first (baton token create --role admin --name YOU), or serve on "
            "127.0.0.1"
        )

    async def go(store: Store) -> None:
        app = create_app(store, books, local_user=whoami(), loopback_only=loopback)
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off")
        server = uvicorn.Server(config)
        where = f"http://{host if ':' not in host else f'[{host}]'}:{port}/"
        mode = "tokens required" if tokens else "no tokens yet: the local user acts as admin"
        ctx.err.print(f"baton serve on {where} ({mode}); Ctrl-C stops", highlight=False)
        await server.serve()

    ctx.run(go, create=True, lasting=True)


@main.group("token")
def token_group() -> None:
    """API tokens for `baton serve`: roles viewer < reviewer < operator < admin."""


@token_group.command("create")
@click.option(
    "--role",
    required=True,
    type=click.Choice([r.value for r in auth.Role]),
    help="viewer (read), reviewer (+decide), operator (+submit, cancel, pause), admin (+tokens)",
)
@click.option("--name", required=True, help="Who or what uses it (recorded with decisions).")
@pass_context
def token_create_cmd(ctx: Context, role: str, name: str) -> None:
    """Create a token and print it: it is shown this once, and only its hash is kept."""

    async def go(store: Store) -> tuple[str, auth.TokenRecord]:
        return await auth.create_token(store, name, role, whoami())

    secret, record = ctx.run(go, create=True)
    click.echo(secret)
    ctx.err.print(
        f"token {record.id} for {record.name} ({record.role.value}): keep it now, it is not "
        "shown again",
        highlight=False,
    )


@token_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def token_list_cmd(ctx: Context, as_json: bool) -> None:
    """Every token: id, name, role, when created and by whom, revoked or not."""

    async def go(store: Store) -> list[dict[str, Any]]:
        return [t.to_dict() for t in auth.tokens_of(await store.load(AUTH_LOG)).values()]

    rows = ctx.run(go)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="tokens")
    for column in ("id", "name", "role", "created by", "state"):
        table.add_column(column)
    for r in rows:
        state = "[red]revoked[/red]" if r["revoked_at"] else "[green]active[/green]"
        table.add_row(r["id"], r["name"], r["role"], r["created_by"], state)
    ctx.console.print(table)


@token_group.command("revoke")
@click.argument("token")
@pass_context
def token_revoke_cmd(ctx: Context, token: str) -> None:
    """Revoke a token (by id, or by name): every server refuses it within a second."""

    async def go(store: Store) -> auth.TokenRecord:
        return await auth.revoke_token(store, token, whoami())

    record = ctx.run(go)
    ctx.line(f"token {record.id} ({record.name}) revoked")
