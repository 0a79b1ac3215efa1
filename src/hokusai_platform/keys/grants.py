"""What a grant says: who (a key or a team), on what (an experiment or a registered model, or a
name prefix of either), and how much (a level, in MLflow's words).

The text forms are the command line's: `key:<id>`, `team:<name>`; `experiment:<id>`,
`experiment:<name-prefix>*`, `model:<name>`, `model:<name-prefix>*`; `READ`, `EDIT`, `MANAGE`,
`NO_PERMISSIONS`.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from hokusai_platform.keys.scopes import Scope

MAX_RESOURCE_CHARS = 500
MAX_TEAM_CHARS = 100
TEAM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_EXPERIMENT_ID = re.compile(r"[0-9]+")


class Level(enum.IntEnum):
    """MLflow's permission levels, in order: each allows everything the ones below it allow.

    Compare with `>=`. NO_PERMISSIONS is 0, so falsy: test an optional level with `is None`.
    """

    NO_PERMISSIONS = 0
    READ = 1
    EDIT = 2
    MANAGE = 3  # also: grant others, delete

    @classmethod
    def parse(cls, text: str) -> Level:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(
                f"{text!r} is not a level: READ, EDIT, MANAGE or NO_PERMISSIONS"
            ) from None


_SCOPE_DEFAULTS = {Scope.READ: Level.READ, Scope.WRITE: Level.EDIT, Scope.ADMIN: Level.MANAGE}


def scope_default(scope: Scope) -> Level:
    """The level on ungranted resources of a key without a default of its own."""
    return _SCOPE_DEFAULTS[scope]


class PrincipalKind(enum.Enum):
    KEY = "key"
    TEAM = "team"


@dataclass(frozen=True, slots=True)
class Principal:
    kind: PrincipalKind
    name: str  # the key's id or the team's name

    @classmethod
    def parse(cls, text: str) -> Principal:
        kind, separator, name = text.strip().partition(":")
        if not separator or kind not in ("key", "team") or not name:
            raise ValueError(f"{text!r} is not key:<id> or team:<name>")
        if kind == "team":
            return cls.team(name)
        return cls(PrincipalKind.KEY, name)

    @classmethod
    def key(cls, key_id: str) -> Principal:
        return cls(PrincipalKind.KEY, key_id)

    @classmethod
    def team(cls, name: str) -> Principal:
        return cls(PrincipalKind.TEAM, team_name(name))

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.name}"


def team_name(text: str) -> str:
    if len(text) > MAX_TEAM_CHARS or not TEAM_NAME.fullmatch(text):
        raise ValueError(
            f"{text!r} is not a team name: letters, digits, '.', '_' and '-', "
            f"starting with a letter or digit, at most {MAX_TEAM_CHARS} characters"
        )
    return text


class ResourceKind(enum.Enum):
    EXPERIMENT = "experiment"
    MODEL = "model"  # a registered model


@dataclass(frozen=True, slots=True)
class Resource:
    """One experiment (by id), one registered model (by name), or every experiment or
    registered model whose *name* starts with `name` (`prefix`: written `name*`)."""

    kind: ResourceKind
    name: str
    prefix: bool = False

    @classmethod
    def experiment(cls, experiment_id: str) -> Resource:
        return cls.parse(f"experiment:{experiment_id}")

    @classmethod
    def model(cls, name: str) -> Resource:
        return cls.parse(f"model:{name}")

    @classmethod
    def parse(cls, text: str) -> Resource:
        kind_text, separator, name = text.partition(":")
        kinds = {kind.value: kind for kind in ResourceKind}
        if not separator or kind_text not in kinds or not name:
            raise ValueError(
                f"{text!r} is not experiment:<id>, experiment:<name-prefix>*, "
                "model:<name> or model:<name-prefix>*"
            )
        kind = kinds[kind_text]
        prefix = name.endswith("*")
        if prefix:
            name = name[:-1]
        if "*" in name:
            raise ValueError(f"{text!r}: '*' may only end a name prefix")
        if len(name) > MAX_RESOURCE_CHARS:
            raise ValueError(f"{text[:40]!r}…: longer than {MAX_RESOURCE_CHARS} characters")
        if kind is ResourceKind.EXPERIMENT and not prefix and not _EXPERIMENT_ID.fullmatch(name):
            raise ValueError(
                f"{text!r}: an experiment is named by its numeric id; "
                "to match experiment names, end a prefix with '*'"
            )
        return cls(kind, name, prefix)

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.name}{'*' if self.prefix else ''}"


@dataclass(frozen=True, slots=True)
class Grant:
    principal: Principal
    resource: Resource
    level: Level

    def to_json(self) -> dict[str, str]:
        return {
            "principal": str(self.principal),
            "resource": str(self.resource),
            "level": self.level.name,
        }
