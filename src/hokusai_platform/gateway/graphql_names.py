"""What a request to MLflow's `/graphql` names, read as MLflow's resolvers read it.

MLflow's handler (`_graphql` in mlflow/server/handlers.py) reads the JSON body whatever the
method: `query`, `variables`, `operationName`. Each root field's resolver turns its `input`
argument (a literal, or the variables it refers to) into the REST message it stands for
(`vars(input)` → `parse_dict`): `mlflowGetRun`'s input is GetRun's message, so it names its run
exactly where `runs/get` does and gets the same rule. Every operation of the document is read,
not only the one `operationName` picks. Anything else (a root field without a rule here, such as
`mlflowSearchModelVersions`, or a fragment at the root) leaves the request to keys whose grants
never restrict them.

A run's `modelVersions` (MLflow's MlflowRunExtension) is a model-version search by run id, so
the answer keeps only versions of registered models the key may read (`readable_versions`).
"""

from __future__ import annotations

from collections.abc import Callable

from graphql import GraphQLError, parse
from graphql.language import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)
from graphql.utilities import value_from_ast_untyped

from hokusai_platform.gateway.request_names import Contradiction, Named, RequestNames
from hokusai_platform.gateway.rules import Names, Source, experiment, experiments, run, runs
from hokusai_platform.keys.grants import Level

R = Level.READ

# MLflow 3's schema (graphql_schema_extensions.py): each root field and what its `input` names.
ROOT_FIELDS: dict[str, tuple[Names, ...]] = {
    "mlflowGetExperiment": (experiment(R),),
    "mlflowGetRun": (run(R),),
    "mlflowListArtifacts": (run(R),),
    "mlflowGetMetricHistoryBulkInterval": (runs(R, Source.MESSAGE, "run_ids"),),
    "mlflowSearchRuns": (experiments(R),),
    "mlflowSearchDatasets": (experiments(R),),
    "test": (),  # echoes its argument
    "testMutation": (),
    "__typename": (),
}
MODEL_VERSIONS = "modelVersions"


class NotUnderstood(ValueError):
    """The document asks for something no rule here reads: only unrestricted keys may."""


class GraphQLRequest:
    """One `/graphql` body: its document and variables."""

    def __init__(self, message: dict[str, object]) -> None:
        query, variables = message.get("query"), message.get("variables")
        if not isinstance(query, str):
            raise Contradiction("a GraphQL request needs its query as a string")
        if variables is not None and not isinstance(variables, dict):
            raise Contradiction("GraphQL variables must be a JSON object")
        try:
            self.document: DocumentNode = parse(query)
        except GraphQLError as exc:
            raise Contradiction(f"the GraphQL query does not parse: {exc.message}") from None
        self._variables: dict[str, object] = variables or {}
        self.fragments = {
            node.name.value: node
            for node in self.document.definitions
            if isinstance(node, FragmentDefinitionNode)
        }

    def named(self) -> list[Named]:
        """What every root field of every operation names, each at the level it needs."""
        named: list[Named] = []
        for node in self.document.definitions:
            if isinstance(node, FragmentDefinitionNode):
                continue
            if not isinstance(node, OperationDefinitionNode):
                raise NotUnderstood(f"a GraphQL {node.kind} definition")
            for selection in node.selection_set.selections:
                if not isinstance(selection, FieldNode):
                    raise NotUnderstood("a fragment at the root of a GraphQL operation")
                named.extend(self._field(selection))
        return named

    def _field(self, field: FieldNode) -> list[Named]:
        name = field.name.value
        if name not in ROOT_FIELDS:
            raise NotUnderstood(f"GraphQL field {name}")
        rule = ROOT_FIELDS[name]
        if not rule:
            return []
        inputs = [argument for argument in field.arguments if argument.name.value == "input"]
        if len(inputs) != 1 or len(field.arguments) != 1:
            raise Contradiction(f"GraphQL field {name} takes one argument, input")
        message = value_from_ast_untyped(inputs[0].value, self._variables)
        if not isinstance(message, dict):
            raise Contradiction(f"the input of GraphQL field {name} is not an object")
        names = RequestNames.of_message(message)
        return [names.read(each) for each in rule]


def readable_versions(
    request: GraphQLRequest, data: object, readable: Callable[[str], bool]
) -> None:
    """Drop, in place, the model versions in `data` whose registered model is not `readable`
    (or which do not say their model's name)."""
    for node in request.document.definitions:
        if isinstance(node, OperationDefinitionNode) and isinstance(data, dict):
            _prune(request, node.selection_set, data, readable, depth=0)


def _prune(
    request: GraphQLRequest,
    selections: SelectionSetNode,
    data: dict[str, object],
    readable: Callable[[str], bool],
    depth: int,
) -> None:
    if depth > 20:  # MLflow refuses deeper documents (graphql_no_batching.py)
        raise NotUnderstood("a GraphQL document nested this deep")
    for selection in selections.selections:
        inner: SelectionSetNode | None
        if isinstance(selection, FieldNode):
            key = (selection.alias or selection.name).value
            value = data.get(key)
            if selection.name.value == MODEL_VERSIONS and isinstance(value, list):
                value = data[key] = [
                    item
                    for item in value
                    if isinstance(item, dict)
                    and isinstance(item.get("name"), str)
                    and readable(item["name"])
                ]
            inner = selection.selection_set
            children = value if isinstance(value, list) else [value]
            if inner is not None:
                for child in children:
                    if isinstance(child, dict):
                        _prune(request, inner, child, readable, depth + 1)
            continue
        if isinstance(selection, InlineFragmentNode):
            inner = selection.selection_set
        else:
            assert isinstance(selection, FragmentSpreadNode)
            fragment = request.fragments.get(selection.name.value)
            inner = None if fragment is None else fragment.selection_set
        if inner is not None:
            _prune(request, inner, data, readable, depth + 1)
