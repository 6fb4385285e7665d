"""Field-level access rules: a restricted field names the permission it needs, next to it.

``Requires(permission)`` refuses the field to callers without it: a ``Forbidden`` error, which
is a field error and null (or the ``ForbiddenError`` member of a union that declares one: see
``errors.py``).
``MaskedWithout(permission, mask)`` hands the value out masked instead. Both print as schema
directives, so the committed SDL says who may read what. Put them on the type's own fields
(``ServiceCaseRecord.description``, ``Identifier.value``), not on the fields that lead there,
and every path to the value — timeline, past problems, search — inherits the rule.

Every text field (``String``, ``ID``, ``JSON``) of an output type decides: refused, masked
(``in_text()`` for free text: the e-mail addresses and phone numbers found in it), or
``public(reason)`` — read as it is by every role, with why that is safe. The schema is not
built while one has not (:func:`undeclared_text_fields`), so a new field cannot leak by default.

The same rules feed the access audit: a value read in full under one of ``AUDITED`` (contact
points, case text, the audit log), or a field marked ``Disclosed`` (the contact point a
decision hands out), is noted in the request's audit trail with the profile it belongs to (the
source object's ``profile_id``) — a set add; the trail is written once when the request ends.
Free text masked only for the contact points it may hold (``in_text()``: a display name, an
order's title) is not an audited read: the fields that are contact points are.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import strawberry
from graphql import GraphQLObjectType, GraphQLResolveInfo, GraphQLSchema, get_named_type
from strawberry.extensions import FieldExtension
from strawberry.schema_directive import Location
from strawberry.types import Info
from strawberry.types.field import StrawberryField

from c360.api.graphql.context import Context
from c360.auth.masking import Mask
from c360.auth.service import Forbidden, Permission, roles_with

ACCESS = "c360.access"
"""The metadata key of a field every role reads as it is, with why that is safe."""


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
    "than these. how: value (the field is one, masked whole), firstLetter, postalCode, inText "
    "(the e-mail addresses and phone numbers found in the text), properties (inText at any "
    "depth of a JSON value, its keys too, values under address keys whole).",
)
class MaskedDirective:
    permission: str
    unmasked_for: list[str]
    how: str


AUDITED = frozenset({Permission.CONTACT_POINTS, Permission.CASE_TEXT, Permission.READ_AUDIT})
"""Reads under these permissions are audited (read in full: a masked value is not)."""


def holds(info: Info[Context, None], permission: Permission) -> bool:
    caller = info.context.caller
    return caller is not None and caller.may(permission)  # no caller: nothing (fail closed)


def _audit(context: Context, source: Any, field: str, value: Any) -> None:
    """Notes a value handed out in full, unless there was nothing to hand out."""
    if value is None or value == "" or value == []:
        return
    owner = getattr(source, "profile_id", None)
    context.audit.read(None if owner is None else str(owner), field)


def _audit_info(info: Info[Context, None], source: Any, value: Any) -> None:
    _audit(info.context, source, f"{info.path.typename}.{info.field_name}", value)


class Disclosed(FieldExtension):
    """A contact point handed out in full to every role that reads the field (a decision's,
    an audience member's): each read is audited."""

    def resolve(
        self, next_: Callable[..., Any], source: Any, info: Info[Context, None], **kwargs: Any
    ) -> Any:
        value = next_(source, info, **kwargs)
        _audit_info(info, source, value)
        return value

    async def resolve_async(
        self,
        next_: Callable[..., Awaitable[Any]],
        source: Any,
        info: Info[Context, None],
        **kwargs: Any,
    ) -> Any:
        value = await next_(source, info, **kwargs)
        _audit_info(info, source, value)
        return value


class Requires(FieldExtension):
    """Only callers holding ``permission`` read this field."""

    def __init__(self, permission: Permission) -> None:
        self.permission = permission
        self.directive = RequiresDirective(
            permission=permission.value, roles=[r.value for r in roles_with(permission)]
        )

    def apply(self, field: StrawberryField) -> None:
        # Whether a refusal can be answered (a nullable field, or a union with ForbiddenError)
        # is checked once the schema is built: errors.unanswered_refusals.
        if self.directive not in field.directives:  # types are shared by every schema built
            field.directives.append(self.directive)

    def _refuse(self, info: Info[Context, None]) -> Forbidden:
        caller = info.context.caller
        role = caller.role.value if caller else "anonymous"
        verb = "use" if info.path.typename == "Mutation" else "read"
        return Forbidden(
            f"{role} keys may not {verb} {info.path.typename}.{info.field_name}: it needs "
            f"the {self.permission} permission ({', '.join(self.directive.roles)})"
        )

    def resolve(
        self, next_: Callable[..., Any], source: Any, info: Info[Context, None], **kwargs: Any
    ) -> Any:
        if not holds(info, self.permission):
            raise self._refuse(info)
        value = next_(source, info, **kwargs)
        if self.permission in AUDITED:
            _audit_info(info, source, value)
        return value

    async def resolve_async(
        self,
        next_: Callable[..., Awaitable[Any]],
        source: Any,
        info: Info[Context, None],
        **kwargs: Any,
    ) -> Any:
        if not holds(info, self.permission):
            raise self._refuse(info)
        value = await next_(source, info, **kwargs)
        if self.permission in AUDITED:
            _audit_info(info, source, value)
        return value


class MaskedWithout(FieldExtension):
    """Callers without ``permission`` get the value masked ``how`` (each item of a list)."""

    def __init__(self, permission: Permission, how: Mask = Mask.VALUE) -> None:
        self.permission = permission
        self.how = how
        self.directive = MaskedDirective(
            permission=permission.value,
            unmasked_for=[r.value for r in roles_with(permission)],
            how=how.value,
        )

    def apply(self, field: StrawberryField) -> None:
        if self.directive not in field.directives:
            field.directives.append(self.directive)

    @property
    def audited(self) -> bool:
        """Whether a read in full is audited: contact points are, free text that may hold
        some is not."""
        return self.permission in AUDITED and self.how is not Mask.IN_TEXT

    def _masked(self, info: Info[Context, None], source: Any, value: Any) -> Any:
        if value is None:
            return None
        if holds(info, self.permission):
            if self.audited:
                _audit_info(info, source, value)
            return value
        masker = info.context.services.masker
        if isinstance(value, list) and self.how is not Mask.PROPERTIES:
            return [None if item is None else masker.mask(self.how, item) for item in value]
        return masker.mask(self.how, value)

    def resolve(
        self, next_: Callable[..., Any], source: Any, info: Info[Context, None], **kwargs: Any
    ) -> Any:
        return self._masked(info, source, next_(source, info, **kwargs))

    async def resolve_async(
        self,
        next_: Callable[..., Awaitable[Any]],
        source: Any,
        info: Info[Context, None],
        **kwargs: Any,
    ) -> Any:
        return self._masked(info, source, await next_(source, info, **kwargs))

    def attribute_resolver(self, name: str) -> Callable[..., Any]:
        """The same rule for a plain attribute, as one function graphql-core calls directly:
        Strawberry runs a field with extensions through its general path (arguments parsed,
        an ``Info`` built, the chain of extensions), about 8 µs a value, and a timeline page
        has hundreds of masked attributes, read by agents too (see :func:`fast_masking`)."""
        permission, how = self.permission, self.how
        audited = self.audited

        def resolve(source: Any, info: GraphQLResolveInfo, **_: Any) -> Any:
            value = getattr(source, name)
            if value is None:
                return None
            context: Context = info.context
            caller = context.caller
            if caller is not None and caller.may(permission):
                if audited:
                    _audit(context, source, f"{info.parent_type.name}.{info.field_name}", value)
                return value
            masker = context.services.masker
            if isinstance(value, list) and how is not Mask.PROPERTIES:
                return [None if item is None else masker.mask(how, item) for item in value]
            return masker.mask(how, value)

        return resolve


def in_text() -> list[FieldExtension]:
    """Free text from a source: roles without contact points read it with the e-mail
    addresses and phone numbers in it masked."""
    return [MaskedWithout(Permission.CONTACT_POINTS, Mask.IN_TEXT)]


def case_text() -> list[FieldExtension]:
    """What a customer or an agent wrote about a case: only roles with case text read it."""
    return [Requires(Permission.CASE_TEXT)]


def public(reason: str) -> dict[str, str]:
    """Metadata of a text field every role reads as it is; ``reason`` says why that is safe
    (made by c360, a closed vocabulary, validated so that it holds no address or number)."""
    return {ACCESS: reason}


_TEXT_TYPES = frozenset({"String", "ID", "JSON"})


def undeclared_text_fields(schema: GraphQLSchema) -> list[str]:
    """Output fields holding text (``String``, ``ID``, ``JSON``, or lists of them) that say
    neither who reads them (``Requires``), how they are masked (``MaskedWithout``), nor why
    every role may read them as they are (``public``). A new field must decide."""
    undeclared = []
    for name, named in schema.type_map.items():
        if name.startswith("__") or not isinstance(named, GraphQLObjectType):
            continue
        for field_name, field in named.fields.items():
            if get_named_type(field.type).name not in _TEXT_TYPES:
                continue
            definition = (field.extensions or {}).get("strawberry-definition")
            if isinstance(definition, StrawberryField) and (
                ACCESS in (definition.metadata or {})
                or any(
                    isinstance(e, Requires | MaskedWithout | Disclosed)
                    for e in definition.extensions
                )
            ):
                continue
            undeclared.append(f"{name}.{field_name}")
    return sorted(undeclared)


def fast_masking(schema: GraphQLSchema) -> int:
    """Gives every plain attribute whose only rule is a ``MaskedWithout`` the direct resolver
    of :meth:`MaskedWithout.attribute_resolver` (fields with resolvers of their own keep
    Strawberry's path). Returns how many fields it changed."""
    changed = 0
    for name, named in schema.type_map.items():
        if name.startswith("__") or not isinstance(named, GraphQLObjectType):
            continue
        for field in named.fields.values():
            definition = (field.extensions or {}).get("strawberry-definition")
            if not isinstance(definition, StrawberryField) or definition.base_resolver:
                continue
            rules = definition.extensions
            if len(rules) == 1 and isinstance(rules[0], MaskedWithout):
                field.resolve = rules[0].attribute_resolver(definition.python_name)
                changed += 1
    return changed
