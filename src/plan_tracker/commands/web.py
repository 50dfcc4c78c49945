"""Portal commands: `serve` (the web portal and API) and `tokens create|list|revoke`."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.table import Table

from plan_tracker.commands.common import (
    BadInput,
    _engine,
    _format,
    app,
    err,
    handles_errors,
    out,
    plan_locale,
    store_locale,
)
from plan_tracker.domain.messages import msg, word
from plan_tracker.wording import Msg

tokens_app = typer.Typer(no_args_is_help=True, help="API and portal tokens: create (shown once), list, revoke.")
app.add_typer(tokens_app, name="tokens")


@app.command("serve")
@handles_errors
def serve(
    host: Annotated[str, typer.Option("--host", help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="port to listen on")] = 8000,
    access_log: Annotated[bool, typer.Option("--access-log/--no-access-log",
                                             help="log every request (method, path, status) to stdout")] = True,
    forwarded_allow_ips: Annotated[str | None, typer.Option(
        "--forwarded-allow-ips",
        help="comma-separated addresses (or networks) of reverse proxies whose X-Forwarded-For / "
             "X-Forwarded-Proto are trusted (default: PLAN_TRACKER_FORWARDED_ALLOW_IPS, else none: "
             "the client is the connecting address)")] = None,
) -> None:
    """Serve the unit portal (/portal) and the API (/api/v1; schema at /api/v1/openapi.json)."""
    import uvicorn

    from plan_tracker.settings import get_settings
    from plan_tracker.token_secret import resolve_secret

    settings = get_settings()
    resolve_secret(settings)  # WeakSecret (exit 2, with the fix) before anything listens
    if (settings.portal_url or "").lower().startswith("http://") and not settings.insecure_http:
        raise BadInput("cli.plain_http", url=settings.portal_url)
    engine = _engine()  # migrate before the first request
    if settings.insecure_http:  # about the whole portal, every plan's: the plans' common language
        err.print(word("out.insecure_http", store_locale(engine)), style="yellow", markup=False, highlight=False)
    listed = forwarded_allow_ips if forwarded_allow_ips is not None else settings.forwarded_allow_ips
    trusted = [ip.strip() for ip in (listed or "").split(",") if ip.strip()]
    # uvicorn would trust X-Forwarded-* from 127.0.0.1 by default: a client on the machine (or
    # any client, behind a proxy that passes the header on) could then pick its own address
    # and so dodge the rate limit or lock out someone else's. Only listed proxies are trusted.
    uvicorn.run("plan_tracker.web.app:create_server_app", factory=True, host=host, port=port,
                proxy_headers=bool(trusted), forwarded_allow_ips=trusted or None, access_log=access_log)


@tokens_app.command("create")
@handles_errors
def tokens_create(
    plan: Annotated[str, typer.Option("--plan", help="plan id")],
    unit: Annotated[str | None, typer.Option("--unit", help="the unit the token acts for")] = None,
    coordinator: Annotated[bool, typer.Option("--coordinator", help="a token for the plan's coordinator")] = False,
    label: Annotated[str | None, typer.Option("--label", help="a note for the token list")] = None,
) -> None:
    """Create a token; it is printed once and only its prefix and an HMAC are stored."""
    from plan_tracker.clock import now_utc
    from plan_tracker.services.tokens import create_token
    from plan_tracker.settings import get_settings
    from plan_tracker.token_secret import resolve_secret

    if coordinator == (unit is not None):
        raise BadInput("cli.unit_or_coordinator")
    engine = _engine()
    created = create_token(engine, secret_key=resolve_secret(get_settings()), plan_id=plan,
                           unit_id=unit, coordinator=coordinator, label=label, now=now_utc())
    err.print(word("out.token_created", plan_locale(engine, plan), holder=_holder(created.info), plan=plan,
                   prefix=created.info.prefix), markup=False, highlight=False)
    typer.echo(created.token)


@tokens_app.command("list")
@handles_errors
def tokens_list(
    plan: Annotated[str | None, typer.Option("--plan", help="only this plan's")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table | json")] = "table",
) -> None:
    """Tokens by prefix, holder, creation, last use and revocation (never the tokens themselves)."""
    from plan_tracker.services.tokens import list_tokens

    _format(fmt, ("table", "json"))
    engine = _engine()
    infos = list_tokens(engine, plan)
    if fmt == "json":
        rows = [{"prefix": i.prefix, "plan": i.plan_id, "unit": i.unit_id, "coordinator": i.coordinator,
                 "label": i.label, "created_at": i.created_at.isoformat(),
                 "last_used_at": i.last_used_at.isoformat() if i.last_used_at else None,
                 "revoked_at": i.revoked_at.isoformat() if i.revoked_at else None} for i in infos]
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=1) + "\n")
        return
    locale = store_locale(engine, plan)
    table = Table(title=word("out.tokens_title", locale))
    for col in ("prefix", "plan", "holder", "label", "created", "last_used", "revoked"):
        table.add_column(word(f"out.col_{col}", locale))
    for info in infos:
        table.add_row(info.prefix, info.plan_id, _holder(info).render(locale), info.label or "",
                      f"{info.created_at:%Y-%m-%d %H:%M}",
                      f"{info.last_used_at:%Y-%m-%d %H:%M}" if info.last_used_at else "-",
                      f"{info.revoked_at:%Y-%m-%d %H:%M}" if info.revoked_at else "-")
    out.print(table)


@tokens_app.command("revoke")
@handles_errors
def tokens_revoke(prefix: Annotated[str, typer.Argument(help="the token's prefix (from `tokens list`)")]) -> None:
    """Revoke a token: the API and the portal refuse it (and its sessions) from now on."""
    from plan_tracker.clock import now_utc
    from plan_tracker.services.tokens import revoke_token

    engine = _engine()
    info = revoke_token(engine, prefix, now=now_utc())
    out.print(word("out.token_revoked", plan_locale(engine, info.plan_id), prefix=info.prefix, holder=_holder(info),
                   plan=info.plan_id), markup=False, highlight=False)


def _holder(info: Any) -> Msg:
    """Who a token acts for, in words (the JSON keeps `unit` and `coordinator`)."""
    return msg("out.holder_coordinator") if info.coordinator else msg("out.holder_unit", unit=info.unit_id)
