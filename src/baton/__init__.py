"""baton: an orchestration engine for AI-driven work (scope, delegate, review, verify, refine).

The public surface is what this module exports; everything else may change.
"""

from .engine import Engine
from .errors import BatonError, InputError, InvalidAction, NotFound, PlaybookError, UserError
from .items import ItemSpec, load_items
from .playbook import Playbook, load_playbook
from .records import AgentResult, AttemptView, AwaitHuman, CheckResult, ReviewResult, Task, Usage
from .store import MemoryStore, SQLiteStore, Store, open_store
from .types import Decision, Outcome, Status

__all__ = [
    "AgentResult",
    "AttemptView",
    "AwaitHuman",
    "BatonError",
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
    "Task",
    "Usage",
    "UserError",
    "load_items",
    "load_playbook",
    "open_store",
]
