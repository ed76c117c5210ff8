"""baton: an orchestration engine for AI-driven work (scope, delegate, review, verify, refine).

The public surface is what this module exports; everything else may change.
"""

from .core.records import (
    AgentResult,
    Assignment,
    AwaitHuman,
    Candidate,
    CheckResult,
    ReviewResult,
    Usage,
)
from .core.vocabulary import Decision, Outcome, Status
from .engine import Engine
from .errors import BatonError, InputError, InvalidAction, NotFound, PlaybookError, UserError
from .items import ItemSpec, load_items
from .playbook import Playbook, load_playbook
from .store import MemoryStore, SQLiteStore, Store, open_store

__all__ = [
    "AgentResult",
    "Assignment",
    "AwaitHuman",
    "BatonError",
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
    "ReviewResult",
    "SQLiteStore",
    "Status",
    "Store",
    "Usage",
    "UserError",
    "load_items",
    "load_playbook",
    "open_store",
]
