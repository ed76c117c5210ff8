"""baton: an orchestration engine for AI-driven work (scope, delegate, review, verify, refine).

The public surface is what this module exports; everything else may change. A playbook
author needs the records an agent or verifier function gets and returns (`Assignment`,
`Candidate`, `AgentResult`, `CheckResult`, ...); a plugin author the configuration bases
(`AgentConfig`, `ReviewerConfig`, `VerifierConfig`), the three Protocols (`Agent`,
`Reviewer`, `Verifier`) and `BuildContext`; an embedder `Engine`, the stores and the
loaders. `baton.testing` is the kit for testing playbooks.
"""

from __future__ import annotations

import warnings
from typing import Any

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

_RENAMED = {"Task": "Assignment", "AttemptView": "Candidate"}


def __getattr__(name: str) -> Any:
    """The names of baton 0.1 for the records that were renamed, with a warning."""
    if name in _RENAMED:
        new = _RENAMED[name]
        warnings.warn(
            f"baton.{name} is now baton.{new}; the old name goes away in a later release",
            DeprecationWarning,
            stacklevel=2,
        )
        return globals()[new]
    raise AttributeError(f"module 'baton' has no attribute {name!r}")
