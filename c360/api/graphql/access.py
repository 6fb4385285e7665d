"""Field-level access rules: a restricted field names the permission it needs, next to it.

``Requires(permission)`` refuses the field to callers without it: a ``Forbidden`` field error
and null (or a typed ``ForbiddenError`` result, for mutations that declare one).
``MaskedWithout(permission, mask)`` hands the value out masked instead. Both print as schema
directives, so the committed SDL says who may read what. Put them on the type's own fields
(``ServiceCaseRecord.description``, ``Identifier.value``), not on the fields that lead there,
and every path to the value — timeline, past problems, search — inherits the rule.

The same rules feed the access audit: a value read in full under one of ``AUDITED`` (contact
points, case text, the audit log), or a field marked ``Disclosed`` (the contact point a
decision hands out), is noted in the request's audit trail with the profile it belongs to (the
source object's ``profile_id``) — a set add; the trail is written once when the request ends.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import strawberry
from strawberry.extensions import FieldExtension
from strawberry.schema_directive import Location
from strawberry.types import Info
from strawberry.types.base import StrawberryOptional
from strawberry.types.field import StrawberryField

from c360.api.graphql.context import Context
from c360.auth.masking import mask_contact_point
from c360.auth.service import Forbidden, Permission, roles_with


class Refusal(Protocol):
    """A typed error result, e.g. ``ForbiddenError``, for fields whose union declares one."""

    def __call__(self, *, message: str, code: str) -> object: ...


@strawberry.schema_directive(
    name="requires",
    locations=[Location.FIELD_DEFINITION],
    description="Only these roles read the field; for others it is null with a Forbidden error.",
)
class RequiresDirective:
    permission: str
    roles: list[str]


@strawberry.schema_directive(
    name="masked",
    locations=[Location.FIELD_DEFINITION],
    description="Contact points in this field come masked (a•••@example.com) to roles other "
    "than these.",
)
class MaskedDirective:
    permission: str
    unmasked_for: list[str]


AUDITED = frozenset({Permission.CONTACT_POINTS, Permission.CASE_TEXT, Permission.READ_AUDIT})
"""Reads under these permissions are audited (read in full: a masked value is not)."""


def _holds(info: Info[Context, None], permission: Permission) -> bool:
    caller = info.context.caller
    return caller is not None and caller.may(permission)  # no caller: nothing (fail closed)


def _audit(info: Info[Context, None], source: Any, value: Any) -> None:
    """Notes a value handed out in full, unless there was nothing to hand out."""
    if value is None or value == "" or value == []:
        return
    owner = getattr(source, "profile_id", None)
    info.context.audit.read(
        None if owner is None else str(owner), f"{info.path.typename}.{info.field_name}"
    )


class Disclosed(FieldExtension):
    """A contact point handed out in full to every role that reads the field (a decision's,
    an audience member's): each read is audited."""

    def resolve(
        self, next_: Callable[..., Any], source: Any, info: Info[Context, None], **kwargs: Any
    ) -> Any:
        value = next_(source, info, **kwargs)
        _audit(info, source, value)
        return value

    async def resolve_async(
        self,
        next_: Callable[..., Awaitable[Any]],
        source: Any,
        info: Info[Context, None],
        **kwargs: Any,
    ) -> Any:
        value = await next_(source, info, **kwargs)
        _audit(info, source, value)
        return value


class Requires(FieldExtension):
    """Only callers holding ``permission`` read this field."""

    def __init__(self, permission: Permission, *, refusal: Refusal | None = None) -> None:
        self.permission = permission
        self.refusal = refusal
        self.directive = RequiresDirective(
            permission=permission.value, roles=[r.value for r in roles_with(permission)]
        )

    def apply(self, field: StrawberryField) -> None:
        if self.refusal is None and not isinstance(field.type, StrawberryOptional):
            # A refused non-null field would null its parent, and with it what the caller
            # may read.
            raise TypeError(f"{field.python_name}: a field with Requires must be nullable")
        if self.directive not in field.directives:  # types are shared by every schema built
            field.directives.append(self.directive)

    def _refuse(self, info: Info[Context, None]) -> object:
        caller = info.context.caller
        role = caller.role.value if caller else "anonymous"
        message = (
            f"{role} keys may not read {info.path.typename}.{info.field_name}: it needs "
            f"the {self.permission} permission ({', '.join(self.directive.roles)})"
        )
        if self.refusal is not None:
            return self.refusal(message=message, code=Forbidden.__name__)
        raise Forbidden(message)

    def resolve(
        self, next_: Callable[..., Any], source: Any, info: Info[Context, None], **kwargs: Any
    ) -> Any:
        if not _holds(info, self.permission):
            return self._refuse(info)
        value = next_(source, info, **kwargs)
        if self.permission in AUDITED:
            _audit(info, source, value)
        return value

    async def resolve_async(
        self,
        next_: Callable[..., Awaitable[Any]],
        source: Any,
        info: Info[Context, None],
        **kwargs: Any,
    ) -> Any:
        if not _holds(info, self.permission):
            return self._refuse(info)
        value = await next_(source, info, **kwargs)
        if self.permission in AUDITED:
            _audit(info, source, value)
        return value


class MaskedWithout(FieldExtension):
    """Callers without ``permission`` get the value through ``mask`` (each item of a list)."""

    def __init__(
        self, permission: Permission, mask: Callable[[Any], Any] = mask_contact_point
    ) -> None:
        self.permission = permission
        self.mask = mask
        self.directive = MaskedDirective(
            permission=permission.value, unmasked_for=[r.value for r in roles_with(permission)]
        )

    def apply(self, field: StrawberryField) -> None:
        if self.directive not in field.directives:
            field.directives.append(self.directive)

    def _masked(self, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, list):
            return [self._masked(item) for item in value]
        return self.mask(value)

    def _visible(self, info: Info[Context, None], source: Any, value: Any) -> Any:
        if not _holds(info, self.permission):
            return self._masked(value)
        if self.permission in AUDITED:
            _audit(info, source, value)
        return value

    def resolve(
        self, next_: Callable[..., Any], source: Any, info: Info[Context, None], **kwargs: Any
    ) -> Any:
        return self._visible(info, source, next_(source, info, **kwargs))

    async def resolve_async(
        self,
        next_: Callable[..., Awaitable[Any]],
        source: Any,
        info: Info[Context, None],
        **kwargs: Any,
    ) -> Any:
        return self._visible(info, source, await next_(source, info, **kwargs))
