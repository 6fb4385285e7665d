"""``c360 keys``: API keys created (the key printed once), revoked and listed; audited."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import TYPE_CHECKING

from c360.cli.arguments import CASE_INSENSITIVE
from c360.cli.session import operator as _operator
from c360.cli.session import run_with_services as _run

if TYPE_CHECKING:
    from c360.auth.types import ApiKey
    from c360.services import Services
    from c360.settings import Settings
    from c360.store import Store

HELP = "API keys"


def arguments(keys: argparse.ArgumentParser) -> None:
    """The arguments of ``c360 keys create|revoke|list``, and their handlers."""
    from c360.auth.types import Role

    keys_sub = keys.add_subparsers(required=True, metavar="ACTION")
    create = keys_sub.add_parser("create", help="create a key; it is printed once")
    create.add_argument(
        "--role", required=True, choices=[r.value for r in Role], type=CASE_INSENSITIVE
    )
    create.add_argument("--name", required=True, help="who or what uses it")
    create.set_defaults(handler=_create_key)
    revoke = keys_sub.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id")
    revoke.set_defaults(handler=_revoke_key)
    listing_keys = keys_sub.add_parser("list", help="the keys (never their secrets)")
    listing_keys.set_defaults(handler=_list_keys)


def _create_key(args: argparse.Namespace, settings: Settings) -> int:
    from c360.audit.types import Action
    from c360.auth.types import Role

    async def work(services: Services, store: Store) -> tuple[str, str]:
        created, key = await services.keys.create(
            Role(args.role), args.name, dt.datetime.now(dt.UTC)
        )
        key_id = created.id
        detail = json.dumps({"id": key_id, "role": args.role, "name": created.name})
        await services.audit.record(
            _operator(), Action.MUTATION, "keys create", operation="c360 keys", detail=detail
        )
        return key_id, key

    key_id, key = _run(settings, work)
    print(f"id: {key_id}\nrole: {args.role}\nkey: {key}\n(shown only now: store it safely)")
    return 0


def _revoke_key(args: argparse.Namespace, settings: Settings) -> int:
    from c360.audit.types import Action

    async def work(services: Services, store: Store) -> None:
        await services.keys.revoke(args.key_id, dt.datetime.now(dt.UTC))
        detail = json.dumps({"id": args.key_id})
        await services.audit.record(
            _operator(), Action.MUTATION, "keys revoke", operation="c360 keys", detail=detail
        )

    _run(settings, work)
    print(f"revoked {args.key_id}")
    return 0


def _list_keys(args: argparse.Namespace, settings: Settings) -> int:
    async def work(services: Services, store: Store) -> list[ApiKey]:
        return await services.keys.all()

    keys = _run(settings, work)
    if not keys:
        print("no API keys (create one: c360 keys create --role agent --name NAME)")
    for key in keys:
        state = "revoked" if key.revoked_at is not None else "active"
        print(f"{key.id}  {key.role:<9}  {state:<7}  {key.name}")
    return 0
