"""One error family for baton.

    BatonError
    ├── UserError              the user's mistake; nothing was changed
    │   ├── InputError         a playbook / items file / option is invalid (file, line, field)
    │   │   ├── PlaybookError
    │   │   └── ItemsError
    │   ├── NotFound           an item, agent or file that does not exist
    │   └── InvalidAction      an action that does not fit the item's state
    └── RuntimeFailure         something failed while running; carries data
        ├── StoreError         a store backend failed (its own exception translated)
        │   └── VersionConflict  an append raced another writer
        ├── AgentError         an agent call failed (retryable or not)
        └── ReviewError        a reviewer could not give a decision

Control signals (a person must act) are return values (`AwaitHuman`), not exceptions.
Messages never contain secret values: the engine redacts them before they are recorded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .core.records import Usage

from dataclasses import dataclass


class BatonError(Exception):
    """Root of every error baton raises on purpose."""


class UserError(BatonError):
    """The user asked for something invalid; nothing was changed."""


@dataclass(frozen=True)
class Problem:
    """One precise complaint about an input: where it is and what was expected."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        prefix = ": ".join(part for part in (where, self.field) if part)
        return f"{prefix}: {self.message}" if prefix else self.message


class InputError(UserError):
    """An input (playbook, items file, option) failed validation."""

    def __init__(self, problems: list[Problem] | Problem | str) -> None:
        if isinstance(problems, str):
            problems = [Problem("", None, "", problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class PlaybookError(InputError):
    """A playbook is malformed; nothing runs."""


class ItemsError(InputError):
    """A work item (or items file) is invalid; nothing is submitted."""


class NotFound(UserError):
    """An item, agent, playbook or file does not exist."""


class InvalidAction(UserError):
    """The action does not fit the item's current state (e.g. approving a running item)."""


class RuntimeFailure(BatonError):
    """A failure while running, with the data needed to decide what to do next."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class StoreError(RuntimeFailure):
    """A store backend failed; the backend's own exception is chained as the cause."""


class VersionConflict(StoreError):
    """An append expected a log version that another writer has moved past."""

    def __init__(self, log: str, expected: int, actual: int) -> None:
        super().__init__(
            f"log {log!r} is at version {actual}, the append expected {expected}",
            retryable=True,
        )
        self.log = log
        self.expected = expected
        self.actual = actual


class LeaseLost(StoreError):
    """A fenced append came from a lease that is no longer the item's: another engine
    claimed the item since (its fence is newer). Nothing was written; the writer must stop
    working on the item and record nothing more for it."""

    def __init__(self, log: str, fence: int, current: int) -> None:
        super().__init__(
            f"item {log!r} was claimed again since this engine's lease (fence {fence}; "
            f"the item's is {current}): another engine holds it now"
        )
        self.log = log
        self.fence = fence
        self.current = current


class AgentError(RuntimeFailure):
    """An agent failed to produce a result (crash, timeout, bad exit code).

    `usage` is what the failed call still cost (a model's tokens), so budgets count it.
    """

    def __init__(self, message: str, *, retryable: bool = False, usage: Usage | None = None):
        super().__init__(message, retryable=retryable)
        self.usage = usage


class ReviewError(RuntimeFailure):
    """A reviewer could not produce a decision (e.g. an unparseable answer)."""
