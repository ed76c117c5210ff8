"""`edits:` of a chat agent: what it may show the model and how the model answers."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .paths import path_problem

# what a model in `files` mode answers; with `structured: true` it is held to it
FILES_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "files": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "path": {"type": "string", "minLength": 1},
                    "content": {"type": "string"},
                },
                "required": ["path", "content"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["files"],
    "additionalProperties": False,
}
FILES_SHAPE = '{"files": [{"path": "...", "content": "..."}]}'


class EditsConfig(BaseModel):
    """`edits:` of a chat agent: it changes files in the attempt's working folder."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    mode: Literal["files", "diff"] = Field(
        "files",
        description="files: the model answers with the whole new content of each file it "
        "changes (JSON); diff: with a unified diff, applied with git apply",
    )
    context: list[str] = Field(
        default_factory=list,
        description="globs relative to the working folder: these files' contents go into "
        "the prompt (in the order of the globs, each glob's matches sorted)",
    )
    max_context_bytes: int = Field(
        20_000, ge=0, description="at most this many bytes of files in the prompt"
    )

    @field_validator("context")
    @classmethod
    def _relative_globs(cls, value: list[str]) -> list[str]:
        for pattern in value:
            problem = path_problem(pattern)
            if problem is None and any(
                "**" in part and part != "**" for part in PurePosixPath(pattern).parts
            ):
                problem = "'**' must be a whole path component, as in src/**/*.py"
            if problem is not None:
                raise ValueError(f"context glob {pattern!r}: {problem}")
        return value
