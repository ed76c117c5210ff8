"""baton: an orchestration engine for AI-driven work (scope, delegate, review, verify, refine).

The public surface is what this module exports; everything else may change. A playbook
author needs the records an agent or verifier function gets and returns (`Assignment`,
`Candidate`, `AgentResult`, `CheckResult`, ...); a plugin author the configuration bases
(`AgentConfig`, `ReviewerConfig`, `VerifierConfig`), the three Protocols (`Agent`,
`Reviewer`, `Verifier`) and `BuildContext`; an embedder `Engine`, the stores and the
loaders. `baton.testing` is the kit for testing playbooks.
"""

from __future__ import annotations

import importlib
import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the names, for type checkers; at run time each is imported when first used
    from .config.items import ItemSpec, load_items
    from .config.loading import load_playbook
    from .config.playbook import Playbook
    from .config.plugin import (
        Agent,
        AgentConfig,
        BuildContext,
        PluginConfig,
        Reviewer,
        ReviewerConfig,
        Verifier,
        VerifierConfig,
        When,
    )
    from .core.records import (
        AgentResult,
        Assignment,
        AwaitHuman,
        BudgetLeft,
        Candidate,
        CheckResult,
        ReviewResult,
        Usage,
    )
    from .core.vocabulary import Decision, Outcome, Risk, Status
    from .errors import (
        AgentError,
        BatonError,
        InputError,
        InvalidAction,
        NotFound,
        PlaybookError,
        ReviewError,
        UserError,
    )
    from .runtime.engine import Engine
    from .store import MemoryStore, SQLiteStore, Store, open_store

__version__ = "0.2.0"

__all__ = [
    "Agent",
    "AgentConfig",
    "AgentError",
    "AgentResult",
    "Assignment",
    "AwaitHuman",
    "BatonError",
    "BudgetLeft",
    "BuildContext",
    "Candidate",
    "CheckResult",
    "Decision",
    "Engine",
    "InputError",
    "InvalidAction",
    "ItemSpec",
    "MemoryStore",
    "NotFound",
    "Outcome",
    "Playbook",
    "PlaybookError",
    "PluginConfig",
    "ReviewError",
    "ReviewResult",
    "Reviewer",
    "ReviewerConfig",
    "Risk",
    "SQLiteStore",
    "Status",
    "Store",
    "Usage",
    "UserError",
    "Verifier",
    "VerifierConfig",
    "When",
    "__version__",
    "load_items",
    "load_playbook",
    "open_store",
]

_HOMES = {
    **dict.fromkeys(["ItemSpec", "load_items"], ".config.items"),
    "load_playbook": ".config.loading",
    "Playbook": ".config.playbook",
    **dict.fromkeys(
        [
            "Agent",
            "AgentConfig",
            "BuildContext",
            "PluginConfig",
            "Reviewer",
            "ReviewerConfig",
            "Verifier",
            "VerifierConfig",
            "When",
        ],
        ".config.plugin",
    ),
    **dict.fromkeys(
        [
            "AgentResult",
            "Assignment",
            "AwaitHuman",
            "BudgetLeft",
            "Candidate",
            "CheckResult",
            "ReviewResult",
            "Usage",
        ],
        ".core.records",
    ),
    **dict.fromkeys(["Decision", "Outcome", "Risk", "Status"], ".core.vocabulary"),
    **dict.fromkeys(
        [
            "AgentError",
            "BatonError",
            "InputError",
            "InvalidAction",
            "NotFound",
            "PlaybookError",
            "ReviewError",
            "UserError",
        ],
        ".errors",
    ),
    "Engine": ".runtime.engine",
    **dict.fromkeys(["MemoryStore", "SQLiteStore", "Store", "open_store"], ".store"),
}
"""Where each public name lives: imported on first use (PEP 562), so `import baton` and the
CLI's start-up do not pay for the engine, pydantic and the stores until they are used."""

_RENAMED = {"Task": "Assignment", "AttemptView": "Candidate"}


def __getattr__(name: str) -> Any:
    """A public name, imported from its module on first use; the names of baton 0.1 for the
    records that were renamed, with a warning."""
    home = _HOMES.get(name)
    if home is not None:
        value = getattr(importlib.import_module(home, __name__), name)
        globals()[name] = value  # found directly from now on
        return value
    if name in _RENAMED:
        new = _RENAMED[name]
        warnings.warn(
            f"baton.{name} is now baton.{new}; the old name goes away in a later release",
            DeprecationWarning,
            stacklevel=2,
        )
        return __getattr__(new)
    raise AttributeError(f"module 'baton' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
