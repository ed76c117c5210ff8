"""Model agents that edit files: the step a chat agent (`llama`, `openai`) takes instead of
answering with text when its playbook block has `edits:`.

The attempt's working folder (a git worktree with `workspace.repo`, a copy with
`workspace.copy`) is where the model works. Baton reads the files the playbook names into
the prompt; the model answers with the new contents of the files it changes (`mode: files`,
JSON, grammar-constrained with `structured: true`) or with a unified diff (`mode: diff`,
applied with `git apply`, checked first). Every path stays inside the working folder. What
changed is recorded by baton afterwards, as for any agent that edits a worktree; an answer
that cannot be applied fails the attempt with the reason, which the next attempt gets as
feedback.
"""

from .config import FILES_SCHEMA, EditsConfig
from .editor import Asking, FileEditor

__all__ = ["FILES_SCHEMA", "Asking", "EditsConfig", "FileEditor"]
