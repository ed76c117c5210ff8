"""The kinds of plugins, found through entry points, and the union a playbook section is
validated with.

Groups: `baton.agents`, `baton.reviewers`, `baton.verifiers` (name = the kind a playbook
writes, value = its configuration class, which declares `kind: Literal["name"]`), and
`baton.stores` (name = a URL scheme, value = a function that opens such a store). baton's
own kinds are entry points in its pyproject exactly like a third party's: nothing here
names them.

A name that installed distributions declare with different values is a clash: none of
them is used, and whatever names it (a playbook section, a store URL) gets an error naming
every distribution, so nobody's kind silently replaces another's. (The same value twice,
as a stale copy of a distribution leaves it, is the same kind.) An entry point that cannot
be loaded, or whose class does not fit its group, is reported the same way when used.
Every other kind of the group works as usual.
"""

from __future__ import annotations

import functools
import operator
import typing
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Annotated, Any

if TYPE_CHECKING:  # pydantic and the bases are imported when a kind is checked, not before
    from pydantic import TypeAdapter

    from .plugin import PluginConfig

CONFIG_BASES = {
    "baton.agents": "AgentConfig",
    "baton.reviewers": "ReviewerConfig",
    "baton.verifiers": "VerifierConfig",
}
"""Each group of configuration kinds and the name of its base in config/plugin.py (opening
a store finds its opener here too, and needs neither pydantic nor the bases)."""
STORES = "baton.stores"


@dataclass(frozen=True)
class Kinds:
    """A group's kinds: those that can be used, and those that cannot (with the reason)."""

    group: str
    found: dict[str, Any] = field(default_factory=dict)
    broken: dict[str, str] = field(default_factory=dict)

    def names(self) -> list[str]:
        """Every declared name, usable or not, sorted."""
        return sorted({*self.found, *self.broken})


@cache
def kinds(group: str) -> Kinds:
    """The group's kinds, as the installed distributions declare them."""
    return _loaded(group, entry_points(group=group))


def kind(group: str, name: str) -> Kinds:
    """One kind of the group (found or broken, or neither when nobody declares it),
    loading no other: opening a SQLite store need not import the Redis client."""
    return _loaded(group, entry_points(group=group, name=name))


def _loaded(group: str, eps: typing.Iterable[EntryPoint]) -> Kinds:
    declared: dict[str, list[EntryPoint]] = {}
    for ep in eps:
        declared.setdefault(ep.name, []).append(ep)
    found: dict[str, Any] = {}
    broken: dict[str, str] = {}
    for name, same in sorted(declared.items()):
        origins = sorted({f"{_distribution(ep)} ({ep.value})" for ep in same})
        if len({ep.value for ep in same}) > 1:  # the same target twice (a stale install) is one
            broken[name] = (
                f"{name!r} is declared by several installed packages: {', '.join(origins)}; "
                "uninstall all but one (or ask a package's author to rename its kind)"
            )
            continue
        try:
            loaded = same[0].load()
        except Exception as exc:  # a third party's broken package must not break the rest
            broken[name] = (
                f"{name!r} comes from {origins[0]}, which cannot be loaded: "
                f"{type(exc).__name__}: {exc}"
            )
            continue
        problem = _misfit(group, name, loaded)
        if problem:
            broken[name] = f"{name!r} comes from {origins[0]}, but {problem}"
        else:
            found[name] = loaded
    return Kinds(group, found, broken)


def _distribution(ep: EntryPoint) -> str:
    dist = ep.dist
    return dist.name if dist is not None else "an unknown distribution"


def _misfit(group: str, name: str, loaded: Any) -> str:
    """Why a loaded entry point does not fit its group ('' when it does)."""
    if group not in CONFIG_BASES:
        return "" if callable(loaded) else "it is not callable"
    base = config_base(group)
    if not (isinstance(loaded, type) and issubclass(loaded, base)):
        return f"it is not a subclass of baton's {base.__name__}"
    annotation = loaded.model_fields["kind"].annotation
    if typing.get_origin(annotation) is not typing.Literal or typing.get_args(annotation) != (
        name,
    ):
        return f'its kind field is not Literal["{name}"] (the name of its entry point)'
    return ""


def config_base(group: str) -> type[PluginConfig]:
    """The configuration base every kind of the group derives from."""
    from . import plugin

    base: type[PluginConfig] = getattr(plugin, CONFIG_BASES[group])
    return base


@cache
def union(group: str) -> TypeAdapter[Any] | None:
    """A section of the group validated as one of its kinds, chosen by `kind` (a
    discriminated union); None when the group has no usable kind."""
    from pydantic import Field, TypeAdapter

    classes = list(kinds(group).found.values())
    if not classes:
        return None
    if len(classes) == 1:  # a union needs two members: the one class checks its own kind
        return TypeAdapter(classes[0])
    members = functools.reduce(operator.or_, classes)
    chosen: Any = Annotated[members, Field(discriminator="kind")]  # built at run time
    return TypeAdapter(chosen)
