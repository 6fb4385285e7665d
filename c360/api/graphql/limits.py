"""Checks before an operation runs: that the request says which one (``OneOperation``), and
what it may cost (``QueryCostLimiter``).

Each field costs 1; the selections under a field with a ``first`` argument count once per item
it asks for (its default when not given), so ``timeline(first: 100)`` nested under
``searchProfiles(first: 50)`` costs 5,000 times its node's fields. Lists without ``first``
(identifiers, line items) count once: they are small and bounded by the data. Introspection is
free (bounded by the schema, and by the depth limit). Depth and document size have their own
limits (``QueryDepthLimiter``, ``MaxTokensLimiter``); neither sees a page size.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

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
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    get_operation_ast,
)
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values
from strawberry.extensions import SchemaExtension

from c360.profiles.service import MAX_PAGE_SIZE

PAGE_ARGUMENT = "first"


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


class QueryCostLimiter(SchemaExtension):
    """Refuses, before execution, an operation whose cost exceeds ``max_cost``."""

    def __init__(self, max_cost: int) -> None:
        self.max_cost = max_cost

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None:
            cost = operation_cost(
                context.schema._schema,
                document,
                context.operation_name,
                context.variables or {},
            )
            if cost > self.max_cost:
                error = GraphQLError(
                    f"the query costs {cost:,}, more than the maximum of {self.max_cost:,}: each "
                    f"field counts 1, and what is under a list once per item its `first` asks "
                    f"for; ask for smaller pages or fewer fields",
                    extensions={"code": "QueryTooComplex", "cost": cost, "maxCost": self.max_cost},
                )
                context.result = ExecutionResult(data=None, errors=[error])  # nothing runs
        yield


def operation_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any],
) -> int:
    """The cost of the operation to run; 0 when there is none (validation reports that)."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return 0
    root = schema.get_root_type(operation.operation)
    if root is None:
        return 0
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    return _Counter(schema, fragments, operation, variables).cost(operation.selection_set, root)


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
        coerced = get_variable_values(schema, operation.variable_definitions or (), dict(variables))
        # Variables that do not coerce are a request error that execution reports.
        self.variables = coerced if isinstance(coerced, VariableValues) else None

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
                fragment = self.fragments.get(node.name.value)
                if fragment is not None:  # fragment cycles are refused by validation
                    on = self.schema.get_type(fragment.type_condition.name.value)
                    total += self.cost(fragment.selection_set, on or parent)
        return total

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
        return 1 + self._page_size(node, definition) * inner

    def _page_size(self, node: FieldNode, definition: GraphQLField) -> int:
        if PAGE_ARGUMENT not in definition.args:
            return 1
        try:
            size = get_argument_values(definition, node, self.variables).get(PAGE_ARGUMENT)
        except GraphQLError:  # a wrong argument: execution reports it, count the most
            size = None
        return size if isinstance(size, int) and size > 0 else MAX_PAGE_SIZE
