"""What one key may do to one experiment or registered model: a snapshot of its grants.

`Access.build` takes the key's own grants and its teams' grants and indexes them once; each
check is then a few dict lookups plus one probe per distinct prefix length, however many
grants there are. The level on a resource is the first of these that matches it:

1. `admin` scope: MANAGE everywhere; grants are not consulted.
2. A grant to the key itself on the exact resource (an experiment by id, a model by name).
3. A grant to the key itself on a name prefix; the longest matching prefix wins.
4. A grant to one of the key's teams on the exact resource.
5. A grant to one of the key's teams on a name prefix; the longest matching prefix wins.
6. The key's default: its own, if it has one, else from its scope (read: READ, write: EDIT).

So what is said of the key beats what is said of its teams, then exact beats prefix, then a
longer prefix beats a shorter one. Grants that tie (two teams, same resource or prefixes of
the same length) give the highest of their levels: being in a team adds access, and only a
grant to the key itself (even `NO_PERMISSIONS`) takes away what its teams give.

Prefixes match *names*: an experiment's exact grants are by id, its prefix grants match its
name. A check of an experiment therefore needs its name whenever the key or its teams hold an
experiment prefix grant (`needs_experiment_names`); without it, `for_experiment` raises
`ExperimentNameNeeded` if, and only if, a prefix grant could decide.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from hokusai_platform.keys.grants import Grant, Level, PrincipalKind, ResourceKind, scope_default
from hokusai_platform.keys.scopes import Scope


class ExperimentNameNeeded(LookupError):
    """The experiment's level depends on a prefix grant, and its name was not given."""


class _Rules:
    """One tier's grants (the key's, or its teams') on one kind of resource."""

    __slots__ = ("_exact", "_lengths", "_prefixes")

    def __init__(self, exact: dict[str, Level], prefixes: dict[str, Level]) -> None:
        self._exact = exact
        self._prefixes = prefixes
        self._lengths = tuple(sorted({len(prefix) for prefix in prefixes}, reverse=True))

    @property
    def has_prefixes(self) -> bool:
        return bool(self._prefixes)

    def exact(self, name: str) -> Level | None:
        return self._exact.get(name)

    def longest_prefix(self, name: str) -> Level | None:
        size = len(name)
        for length in self._lengths:
            if length <= size:
                level = self._prefixes.get(name[:length])
                if level is not None:
                    return level
        return None


class _RulesBuilder:
    def __init__(self) -> None:
        self.exact: dict[str, Level] = {}
        self.prefixes: dict[str, Level] = {}

    def add(self, grant: Grant) -> None:
        resource = grant.resource
        into = self.prefixes if resource.prefix else self.exact
        known = into.get(resource.name)
        if known is None or grant.level > known:
            into[resource.name] = grant.level

    def build(self) -> _Rules:
        return _Rules(self.exact, self.prefixes)


@dataclass(frozen=True, slots=True)
class Access:
    """A key's grants, indexed; immutable, so one snapshot may serve many requests at once."""

    key_id: str
    version: int  # the key's `grants_version` it was built from
    default: Level
    bypass: bool  # admin scope
    # Nothing here takes away what the scope gives: admin, or a default and every grant at
    # least the scope's level. The gateway then checks the scope alone, as before grants.
    unrestricted: bool
    _key_experiments: _Rules
    _team_experiments: _Rules
    _key_models: _Rules
    _team_models: _Rules

    @classmethod
    def build(
        cls,
        key_id: str,
        scope: Scope,
        default: Level | None,
        grants: Iterable[Grant],
        version: int = 0,
    ) -> Access:
        """From the key's own grants and its teams' (grants to other keys are an error)."""
        key_experiments, team_experiments = _RulesBuilder(), _RulesBuilder()
        key_models, team_models = _RulesBuilder(), _RulesBuilder()
        floor = scope_default(scope)
        level = scope_default(scope) if default is None else default
        unrestricted = level >= floor
        for grant in grants:
            unrestricted = unrestricted and grant.level >= floor
            principal = grant.principal
            experiment = grant.resource.kind is ResourceKind.EXPERIMENT
            if principal.kind is PrincipalKind.TEAM:
                (team_experiments if experiment else team_models).add(grant)
            elif principal.name == key_id:
                (key_experiments if experiment else key_models).add(grant)
            else:
                raise ValueError(f"grant {grant} is not for key {key_id}")
        return cls(
            key_id=key_id,
            version=version,
            default=level,
            bypass=scope is Scope.ADMIN,
            unrestricted=unrestricted or scope is Scope.ADMIN,
            _key_experiments=key_experiments.build(),
            _team_experiments=team_experiments.build(),
            _key_models=key_models.build(),
            _team_models=team_models.build(),
        )

    @property
    def needs_experiment_names(self) -> bool:
        """Whether `for_experiment` may need the experiment's name, not only its id."""
        return not self.bypass and (
            self._key_experiments.has_prefixes or self._team_experiments.has_prefixes
        )

    def for_experiment(self, experiment_id: str, name: str | None = None) -> Level:
        """The level on the experiment with this id (and this name, when known)."""
        if self.bypass:
            return Level.MANAGE
        for rules in (self._key_experiments, self._team_experiments):
            level = rules.exact(experiment_id)
            if level is not None:
                return level
            if rules.has_prefixes:
                if name is None:
                    raise ExperimentNameNeeded(
                        f"experiment {experiment_id}: key {self.key_id} has name-prefix grants"
                    )
                level = rules.longest_prefix(name)
                if level is not None:
                    return level
        return self.default

    def for_model(self, name: str) -> Level:
        """The level on the registered model with this name."""
        if self.bypass:
            return Level.MANAGE
        for rules in (self._key_models, self._team_models):
            level = rules.exact(name)
            if level is None:
                level = rules.longest_prefix(name)
            if level is not None:
                return level
        return self.default
