"""Checks before an operation runs: that the request says which one (``OneOperation``), how
deep it nests and how much validation would compare (``ShapeLimiter``), and what it may cost
(``QueryCostLimiter``); and ``CachedDocuments``, which lets a query text that passed parsing
and validation once skip both afterwards, and parses and validates the others off the event
loop.

Each field costs 1; the selections under a field with a ``first`` argument count once per item
it asks for (its default when not given), so ``timeline(first: 100)`` nested under
``searchProfiles(first: 50)`` costs 5,000 times its node's fields. Lists without ``first``
(identifiers, line items) count once: they are small and bounded by the data. Introspection is
free (bounded by the schema, and by the depth limit). Depth and document size have their own
limits (``ShapeLimiter``, ``MaxTokensLimiter``); neither sees a page size.

Every walk here visits each fragment once, whatever the number of places that spread it: a
fragment's depth and cost are remembered by its name. So their work is bounded by the
document's size, never by its expansion, and a document of fragments that each spread the next
twice is refused at once for its cost (2 to the power of its levels) instead of being walked
that many times (Strawberry's ``QueryDepthLimiter`` walks it so).

Over 500 lines: the four run in one order on one document and share how it is read (one
parse and one validation, off the event loop and cached; one walk of its fragments), so a
change to that reading is made once, here.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSyntaxError,
    InlineFragmentNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    get_named_type,
    get_operation_ast,
    parse,
)
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values
from graphql.validation import ASTValidationRule
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document
from strawberry.types import ExecutionContext

from c360.api.graphql.errors import INVALID_REQUEST
from c360.profiles.service import MAX_PAGE_SIZE
from schemas.quoting import shown

PAGE_ARGUMENT = "first"
# Distinct query texts kept per schema, and their length in all. Clients send a handful; the
# bounds keep a stream of unique texts from growing memory (they only evict each other, at the
# cost of a first parse). A parsed document takes about 70 bytes per character of its text:
# the characters bound keeps the cache under 20 MB.
CACHED_DOCUMENTS = 256
CACHED_CHARACTERS = 256 * 1024
# Query texts up to this length are parsed and validated on the event loop (a thread hop costs
# more than they do); longer ones in a worker. The token limit and the linear checks bound both,
# but a document of a few thousand tokens can still take a second of graphql-core's validation
# (its overlapping-fields rule compares fields pairwise), which must not stop other requests.
INLINE_CHARACTERS = 2000
# Workers for that: at most two documents are checked at once, so a stream of costly ones takes
# at most two threads' share of the interpreter lock and the event loop keeps its own.
_CHECKS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="graphql-check")
# Costs stop growing here, the largest integer every JSON reader keeps exact: a document's
# expansion can be 2 to the power of its fragments.
COST_CEILING = 2**53 - 1

_T = TypeVar("_T")


async def _off_loop(text: str, work: Callable[[], _T]) -> _T:
    """``work()`` on the loop for a short ``text``, else in a checking worker."""
    if len(text) <= INLINE_CHARACTERS:
        return work()
    return await asyncio.get_running_loop().run_in_executor(_CHECKS, work)


TOO_DEEP = "QueryTooDeep"
TOO_LARGE = "QueryTooLarge"
TOO_COMPLEX = "QueryTooComplex"
"""The codes of the limits' refusals (``extensions.code``): nested past the depth limit (or
the interpreter's stack), over the token limit, over the cost or the comparisons validation
would make."""
_TOKEN_LIMIT = "Syntax Error: Document contains more than"  # graphql-core's parser, its words


def _too_nested() -> GraphQLError:
    return GraphQLError("the document nests too deeply", extensions={"code": TOO_DEEP})


class OneOperation(SchemaExtension):
    """A document of several operations needs an ``operationName`` (GraphQL's GetOperation);
    Strawberry alone would run the first."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        named = context._provided_operation_name  # what the request said, not the fallback
        if document is not None and named is None and context.pre_execution_errors is None:
            operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
            if len(operations) > 1:
                context.pre_execution_errors = [
                    GraphQLError("the document has several operations: name one in operationName")
                ]
        yield


_Key = tuple[str, tuple[tuple[str, Any], ...]]
"""A query text and the options it is parsed with (the token limit)."""


@dataclass
class _Checked:
    """What is known of one query text in one schema, whatever the variables."""

    document: DocumentNode
    valid: bool = False
    """Passed validation: every rule, the depth limit's too."""
    costs: dict[str | None, int] = field(default_factory=dict)
    """Cost by operation name, of the operations whose cost no variable changes."""


class _Documents:
    """The most recently used documents of one schema, at most ``maxsize`` of them and
    ``max_characters`` of query text in all."""

    def __init__(self, maxsize: int, max_characters: int) -> None:
        self.maxsize = maxsize
        self.max_characters = max_characters
        self._entries: OrderedDict[_Key, _Checked] = OrderedDict()
        self._characters = 0

    def get(self, key: _Key) -> _Checked | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def add(self, key: _Key, document: DocumentNode) -> _Checked | None:
        """The new entry; None for a text longer than all the cache may hold."""
        if len(key[0]) > self.max_characters:
            return None
        if key in self._entries:  # added meanwhile by a request that parsed it too
            return self.get(key)
        entry = self._entries[key] = _Checked(document)
        self._characters += len(key[0])
        while len(self._entries) > self.maxsize or self._characters > self.max_characters:
            dropped, _ = self._entries.popitem(last=False)
            self._characters -= len(dropped[0])
        return entry

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[tuple[str, _Checked]]:
        """Query texts and what is known of them, least recently used first."""
        return ((text, entry) for (text, _), entry in self._entries.items())


class CachedDocuments(SchemaExtension):
    """Parses and validates a query text once per schema: a repeated text reuses its document
    and skips validation (the token limit is part of parsing, the depth limit a validation
    rule), and ``QueryCostLimiter`` reuses its cost when no variable changes it. Only documents
    that parsed and validated are kept, so a failing one is checked afresh each time and fails
    the same way. What depends on the operation name or the variables (``OneOperation``,
    their coercion, a cost they change) runs for every request. Put it after ``OneOperation``,
    whose verdict it must not hide."""

    _by_schema: ClassVar[weakref.WeakKeyDictionary[GraphQLSchema, _Documents]] = (
        weakref.WeakKeyDictionary()
    )

    def __init__(self) -> None:
        self._entry: _Checked | None = None

    @classmethod
    def documents(cls, schema: GraphQLSchema) -> _Documents:
        """The cache of ``schema``'s documents (made on first use)."""
        found = cls._by_schema.get(schema)
        if found is None:
            found = cls._by_schema[schema] = _Documents(CACHED_DOCUMENTS, CACHED_CHARACTERS)
        return found

    @classmethod
    def entry(cls, context: ExecutionContext) -> _Checked | None:
        """The entry of the document ``context`` runs, when it came from (or went into) the
        cache."""
        documents = cls._by_schema.get(context.schema._schema)
        if documents is None or not context.query:
            return None
        entry = documents.get(_key(context))
        return entry if entry is not None and entry.document is context.graphql_document else None

    async def on_parse(self) -> AsyncIterator[None]:
        context = self.execution_context
        query = context.query
        if context.graphql_document is not None or not query:
            yield  # given a document, or none to parse (Strawberry answers that)
            return
        documents = self.documents(context.schema._schema)
        key = _key(context)
        entry = documents.get(key)
        if entry is not None:
            context.graphql_document = entry.document  # Strawberry's parse is skipped
        else:
            options = dict(context.parse_options)
            # A syntax error raised here is the request's error, as Strawberry's own parse's.
            context.graphql_document = await _off_loop(query, lambda: _parse(query, options))
            entry = documents.add(key, context.graphql_document)
        yield
        self._entry = entry

    async def on_validate(self) -> AsyncIterator[None]:
        context = self.execution_context
        entry = self._entry
        decided = context.pre_execution_errors is not None  # refused by an earlier check
        document = context.graphql_document
        if entry is not None and entry.valid and not decided:
            context.pre_execution_errors = []  # what validation found: Strawberry's is skipped
        elif not decided and document is not None and context.validation_rules:
            schema, rules = context.schema._schema, tuple(context.validation_rules)
            context.pre_execution_errors = await _off_loop(
                context.query or "", lambda: _validate(schema, document, rules)
            )
        yield
        if entry is not None and not decided and context.pre_execution_errors == []:
            entry.valid = True


def _parse(query: str, options: Mapping[str, Any]) -> DocumentNode:
    try:
        return parse(query, **options)
    except RecursionError:
        raise _too_nested() from None
    except GraphQLSyntaxError as exc:
        # The token limit is coded as the other limits are; any other syntax error is the
        # request's (set here: Strawberry answers a parse error before ``ErrorCodes`` sees it).
        code = TOO_LARGE if exc.message.startswith(_TOKEN_LIMIT) else INVALID_REQUEST
        exc.extensions = {**(exc.extensions or {}), "code": code}
        raise


def _validate(
    schema: GraphQLSchema, document: DocumentNode, rules: tuple[type[ASTValidationRule], ...]
) -> list[GraphQLError]:
    """Strawberry's validation (graphql-core's rules and its own), as it would run it."""
    try:
        return validate_document(schema, document, rules)
    except RecursionError:
        return [_too_nested()]


class ShapeLimiter(SchemaExtension):
    """Refuses, before graphql-core's validation, a document that nests deeper than
    ``max_depth`` (introspection aside; counted through fragments as Strawberry's
    ``QueryDepthLimiter`` does, with its message) or whose fields validation would have to
    compare pairwise more than ``MAX_FIELD_PAIRS`` times. Both come of one walk that measures
    each fragment once. Put it before ``CachedDocuments``: a refused document is not validated.

    The pairs: graphql-core's overlapping-fields rule compares, in each selection set, every two
    fields of one response name and every two fragments spread in it, at about 10 µs a pair; a
    few thousand tokens of ``a: profile(id: "1") a: profile(id: "2") …`` cost it a second.
    Written documents give each field of a selection its own name, and spread a few fragments.
    """

    def __init__(self, max_depth: int) -> None:
        self.max_depth = max_depth

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        entry = CachedDocuments.entry(context)
        checked = entry is not None and entry.valid
        if document is not None and context.pre_execution_errors is None and not checked:
            errors = _Shape(document).errors(self.max_depth)
            if errors:
                context.pre_execution_errors = errors
        yield


MAX_FIELD_PAIRS = 1000
"""Comparisons of same-named fields and of fragments allowed in a document (about 10 ms)."""


class _Shape:
    """How deep selections nest (a field with selections is one deeper than they are), and how
    many pairs of fields validation compares."""

    def __init__(self, document: DocumentNode) -> None:
        self._document = document
        self._fragments = _fragments(document)
        self._depths: dict[str, int] = {}
        self._walking: set[str] = set()
        self.pairs = 0

    def errors(self, max_depth: int) -> list[GraphQLError]:
        errors = []
        try:
            for definition in self._document.definitions:
                if isinstance(definition, FragmentDefinitionNode):
                    self._fragment(definition.name.value)  # counted even when not spread
                elif isinstance(definition, OperationDefinitionNode) and (
                    self._selections(definition.selection_set) > max_depth
                ):
                    name = definition.name.value if definition.name else "anonymous"
                    message = f"{shown(name)} exceeds maximum operation depth of {max_depth}"
                    errors.append(GraphQLError(message, definition, extensions={"code": TOO_DEEP}))
        except RecursionError:
            return [_too_nested()]
        if self.pairs > MAX_FIELD_PAIRS:
            errors.append(
                GraphQLError(
                    f"the document repeats response names or fragments too often in one "
                    f"selection ({self.pairs:,} pairs to compare, at most {MAX_FIELD_PAIRS:,}): "
                    f"give each field of a selection its own alias",
                    extensions={"code": TOO_COMPLEX},
                )
            )
        return errors

    def _selections(self, selections: SelectionSetNode | None) -> int:
        """The depth of one selection set, counting its pairs on the way (inline fragments
        belong to the set they are in, as validation merges them)."""
        names: dict[str, int] = {}
        spreads: set[str] = set()
        deepest = self._gather(selections, names, spreads)
        self.pairs += sum(n * (n - 1) // 2 for n in names.values())
        self.pairs += len(spreads) * (len(spreads) - 1) // 2
        return deepest

    def _gather(
        self, selections: SelectionSetNode | None, names: dict[str, int], spreads: set[str]
    ) -> int:
        deepest = 0
        for node in selections.selections if selections else ():
            if isinstance(node, FieldNode):
                name = (node.alias or node.name).value
                names[name] = names.get(name, 0) + 1
                if node.selection_set is not None:
                    inner = self._selections(node.selection_set)
                    if not node.name.value.startswith("__"):
                        deepest = max(deepest, 1 + inner)
            elif isinstance(node, InlineFragmentNode):
                deepest = max(deepest, self._gather(node.selection_set, names, spreads))
            elif isinstance(node, FragmentSpreadNode):
                spreads.add(node.name.value)
                deepest = max(deepest, self._fragment(node.name.value))
        return deepest

    def _fragment(self, name: str) -> int:
        known = self._depths.get(name)
        if known is not None:
            return known
        fragment = self._fragments.get(name)
        if fragment is None or name in self._walking:
            return 0  # unknown, or a cycle: validation refuses both
        self._walking.add(name)
        depth = self._depths[name] = self._selections(fragment.selection_set)
        self._walking.discard(name)
        return depth


def _fragments(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


def _key(context: ExecutionContext) -> _Key:
    assert context.query is not None
    return context.query, tuple(sorted(context.parse_options.items()))


class QueryCostLimiter(SchemaExtension):
    """Refuses, before execution, an operation whose cost exceeds ``max_cost``."""

    def __init__(self, max_cost: int) -> None:
        self.max_cost = max_cost

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is not None:
            cost = self._cost(context)
            if cost > self.max_cost:
                error = GraphQLError(
                    f"the query costs {cost:,}, more than the maximum of {self.max_cost:,}: each "
                    f"field counts 1, and what is under a list once per item its `first` asks "
                    f"for; ask for smaller pages or fewer fields",
                    extensions={"code": TOO_COMPLEX, "cost": cost, "maxCost": self.max_cost},
                )
                context.result = ExecutionResult(data=None, errors=[error])  # nothing runs
        yield

    @staticmethod
    def _cost(context: ExecutionContext) -> int:
        """The operation's cost, remembered with its document when no variable changes it."""
        assert context.graphql_document is not None
        entry = CachedDocuments.entry(context)
        name = context.operation_name
        if entry is not None and name in entry.costs:
            return entry.costs[name]
        cost, by_variables = operation_cost(
            context.schema._schema, context.graphql_document, name, context.variables or {}
        )
        if entry is not None and not by_variables:
            entry.costs[name] = cost
        return cost


def operation_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any],
) -> tuple[int, bool]:
    """The cost of the operation to run (0 when there is none: validation reports that), and
    whether the variables took part in it (a page size, or another argument of a paged field:
    one that does not coerce makes the page count as the largest)."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return 0, False
    root = schema.get_root_type(operation.operation)
    if root is None:
        return 0, False
    counter = _Counter(schema, _fragments(document), operation, variables)
    return counter.cost(operation.selection_set, root), counter.by_variables


class _Counter:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        operation: OperationDefinitionNode,
        variables: Mapping[str, Any],
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.operation = operation
        self.given = variables
        self.by_variables = False
        self._variables: VariableValues | None = None
        self._coerced = False
        self._fragment_costs: dict[str, int] = {}
        self._walking: set[str] = set()

    @property
    def variables(self) -> VariableValues | None:
        """The operation's variables coerced, once, when an argument first needs them; None when
        they do not coerce (a request error that execution reports)."""
        if not self._coerced:
            definitions = self.operation.variable_definitions or ()
            coerced = get_variable_values(self.schema, definitions, dict(self.given))
            self._variables = coerced if isinstance(coerced, VariableValues) else None
            self._coerced = True
        return self._variables

    def cost(self, selections: SelectionSetNode | None, parent: GraphQLNamedType) -> int:
        total = 0
        for node in selections.selections if selections else ():
            if isinstance(node, FieldNode):
                total += self._field(node, parent)
            elif isinstance(node, InlineFragmentNode):
                condition = node.type_condition
                on = self.schema.get_type(condition.name.value) if condition else parent
                total += self.cost(node.selection_set, on or parent)
            elif isinstance(node, FragmentSpreadNode):
                total += self._fragment(node.name.value, parent)
        return min(total, COST_CEILING)

    def _fragment(self, name: str, parent: GraphQLNamedType) -> int:
        """A fragment's cost, the same wherever it is spread (it is counted on its own type):
        walked once."""
        known = self._fragment_costs.get(name)
        if known is not None:
            return known
        fragment = self.fragments.get(name)
        if fragment is None or name in self._walking:
            return 0  # unknown, or a cycle: validation refuses both
        self._walking.add(name)
        on = self.schema.get_type(fragment.type_condition.name.value)
        cost = self._fragment_costs[name] = self.cost(fragment.selection_set, on or parent)
        self._walking.discard(name)
        return cost

    def _field(self, node: FieldNode, parent: GraphQLNamedType) -> int:
        if node.name.value.startswith("__"):
            return 0
        fields = (
            parent.fields if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType) else {}
        )
        definition = fields.get(node.name.value)
        if definition is None:
            return 1
        inner = self.cost(node.selection_set, get_named_type(definition.type))
        return min(1 + self._page_size(node, definition) * inner, COST_CEILING)

    def _page_size(self, node: FieldNode, definition: GraphQLField) -> int:
        if PAGE_ARGUMENT not in definition.args:
            return 1
        if not any(_has_variable(argument.value) for argument in node.arguments or ()):
            variables = None  # literals and defaults alone: the same for any variables
        else:
            self.by_variables = True
            variables = self.variables
        try:
            size = get_argument_values(definition, node, variables).get(PAGE_ARGUMENT)
        except GraphQLError:  # a wrong argument: execution reports it, count the most
            size = None
        return size if isinstance(size, int) and size > 0 else MAX_PAGE_SIZE


def _has_variable(value: ValueNode) -> bool:
    if isinstance(value, VariableNode):
        return True
    if isinstance(value, ListValueNode):
        return any(_has_variable(item) for item in value.values)
    if isinstance(value, ObjectValueNode):
        return any(_has_variable(item.value) for item in value.fields)
    return False
