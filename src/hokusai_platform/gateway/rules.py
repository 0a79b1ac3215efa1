"""The words of the route table (gateway/routes.py): which resource a request names, where
MLflow reads it, and the level of grant it needs.

MLflow's handlers read their parameters in one of three places, and the gateway reads each
exactly there: `MESSAGE` is where `_get_request_message` looks (the query string on GET, the
JSON body otherwise, under a field's proto name or its JSON name), `QUERY` is the query string
whatever the method (handlers that read `request.args` themselves), `PATH` a parameter of the
route's path.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

from hokusai_platform.keys.grants import Level


class Source(enum.Enum):
    MESSAGE = "message"
    QUERY = "query"
    PATH = "path"


class Kind(enum.Enum):
    """What an id names, and so how it leads to the experiment or registered model granted."""

    EXPERIMENT = "experiment"  # an experiment id
    EXPERIMENT_NAME = "experiment name"  # looked up: its id
    RUN = "run"  # looked up: its experiment
    LOGGED_MODEL = "logged model"  # looked up: its experiment
    TRACE = "trace"  # looked up: its experiment
    DATASET = "dataset"  # an evaluation dataset, looked up: the experiments it belongs to
    MODEL = "registered model"  # a registered model's name (a model version's, an alias's)


class Action(enum.Enum):
    """What the gateway does beyond checking, for keys whose grants restrict them."""

    SEARCH_EXPERIMENTS = "experiments"
    SEARCH_MODELS = "registered_models"
    SEARCH_VERSIONS = "model_versions"
    SEARCH_RUNS = "runs"
    SEARCH_LOGGED_MODELS = "logged_models"
    OWN_EXPERIMENT = "own experiment"  # the creator gets MANAGE (every key)
    OWN_MODEL = "own registered model"
    FORGET_EXPERIMENT = "forget experiment"  # its name or id may change: drop cached mappings
    GRAPHQL = "graphql"  # each root field read as the REST route it stands for


SEARCHES = frozenset(
    (
        Action.SEARCH_EXPERIMENTS,
        Action.SEARCH_MODELS,
        Action.SEARCH_VERSIONS,
        Action.SEARCH_RUNS,
        Action.SEARCH_LOGGED_MODELS,
    )
)


@dataclass(frozen=True, slots=True)
class Names:
    """One resource (or list of them, `many`) a request names, and the level it needs.

    `fields` are the spellings MLflow reads, the one it prefers first (`run_id`, then
    `run_uuid`), a dotted path for a nested message's field; `segment`: the id is the first
    segment of a path (an artifact's); `optional`: one of several a route may name; a request
    must name at least one of them."""

    kind: Kind
    level: Level
    source: Source
    fields: tuple[str, ...]
    many: bool = False
    segment: bool = False
    optional: bool = False


@dataclass(frozen=True, slots=True)
class Rule:
    """What a route names. `ruled=False`: it names a resource no rule reads yet, so only
    `admin` keys, and keys whose grants never restrict them, may use it."""

    names: tuple[Names, ...] = ()
    action: Action | None = None
    ruled: bool = True


NONE = Rule()  # the route names no experiment or registered model
UNRULED = Rule(ruled=False)


def needs(*names: Names, action: Action | None = None) -> Rule:
    return Rule(names, action)


def act(action: Action) -> Rule:
    return Rule((), action)


def experiment(level: Level, *fields: str) -> Names:
    """By id, in the request's message: `experiment_id` unless other (dotted) fields say."""
    return Names(Kind.EXPERIMENT, level, Source.MESSAGE, fields or ("experiment_id",))


def experiments(level: Level, field: str = "experiment_ids") -> Names:
    return Names(Kind.EXPERIMENT, level, Source.MESSAGE, (field,), many=True)


def experiment_name(level: Level) -> Names:
    return Names(Kind.EXPERIMENT_NAME, level, Source.MESSAGE, ("experiment_name",))


def artifact_path(level: Level, source: Source = Source.PATH) -> Names:
    """`mlflow-artifacts:/<experiment id>/…`: the artifact root MLflow gives each experiment."""
    return Names(Kind.EXPERIMENT, level, source, ("path",), segment=True)


def run(
    level: Level, source: Source = Source.MESSAGE, fields: tuple[str, ...] = ("run_id", "run_uuid")
) -> Names:
    return Names(Kind.RUN, level, source, fields)


def runs(level: Level, source: Source, field: str) -> Names:
    return Names(Kind.RUN, level, source, (field,), many=True)


def model(level: Level, source: Source = Source.MESSAGE, field: str = "name") -> Names:
    return Names(Kind.MODEL, level, source, (field,))


def logged_model(level: Level, source: Source = Source.PATH) -> Names:
    return Names(Kind.LOGGED_MODEL, level, source, ("model_id",))


def optional(names: Names) -> Names:
    return replace(names, optional=True)


def trace(level: Level, source: Source = Source.PATH, field: str = "trace_id") -> Names:
    return Names(Kind.TRACE, level, source, (field,))


def traces(level: Level) -> Names:
    return Names(Kind.TRACE, level, Source.MESSAGE, ("trace_ids",), many=True)


def dataset(level: Level) -> Names:
    return Names(Kind.DATASET, level, Source.PATH, ("dataset_id",))
