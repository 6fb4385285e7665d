"""What every command shares: opening the store (and saying which), the services over it, and
who acts from the command line (for the access audit)."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from c360.auth.service import Caller
    from c360.services import Services
    from c360.settings import Settings
    from c360.store import Store

T = TypeVar("T")


def say_store(settings: Settings, store: Store) -> None:
    """Every command says on stderr which store it works on, so that nobody imports into a
    store the API never reads."""
    from c360.settings import LEGACY_DATA_DIR

    print(f"store: {store.where()}", file=sys.stderr, flush=True)
    legacy = (LEGACY_DATA_DIR / "db").resolve()
    if (
        store.embedded is not None
        and "data_dir" not in settings.model_fields_set  # chosen: nothing to point out
        and legacy.is_dir()
        and legacy.parent != store.embedded.data_dir.resolve()
    ):
        print(
            f"note: {legacy.parent} holds a store from an older c360, which kept it in the "
            f"working directory; this command does not use it. To keep using it, set "
            f"C360_DATA_DIR={legacy.parent}, or (with c360 stopped) put it in place of "
            f"{store.embedded.data_dir}",
            file=sys.stderr,
            flush=True,
        )


async def with_services(settings: Settings, work: Callable[[Services, Store], Awaitable[T]]) -> T:
    # The services, the store and its driver are imported by the commands that open it.
    from pymongo.errors import PyMongoError

    from c360.services import Services
    from c360.store import CONNECTION_ERRORS, Store, store_error, unreachable

    store = await Store.open(settings)
    say_store(settings, store)
    try:
        return await work(Services.build(store.db, settings), store)
    except CONNECTION_ERRORS as exc:  # the store went away under us
        raise unreachable(exc) from None
    except PyMongoError as exc:  # it refused a command (its disk full): said in one line
        raise store_error(exc) from None
    finally:
        await store.close()


def run_with_services(settings: Settings, work: Callable[[Services, Store], Awaitable[T]]) -> T:
    """``with_services`` run to its end: what a command's handler does with its work."""
    import asyncio

    return asyncio.run(with_services(settings, work))


def operator() -> Caller:
    """Who acts from the command line, for the access audit: the operating-system user."""
    from c360.auth.service import Caller
    from c360.auth.types import Role

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return Caller(key_id="cli", name=f"cli:{user}", role=Role.ADMIN)
