"""Reading user files with positions: YAML/JSON values with the line of every field, and
pydantic errors translated into Problems that name the file, line and field."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from ..errors import Problem

Path_ = tuple[str | int, ...]


class Located:
    """A parsed document and the line (1-based) where each of its paths starts."""

    def __init__(self, file: str, value: Any, lines: dict[Path_, int]) -> None:
        self.file = file
        self.value = value
        self.lines = lines

    def line(self, path: Sequence[str | int]) -> int | None:
        """The line of a path, or of its nearest ancestor that has one."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get(())

    def problem(self, path: Sequence[str | int], message: str) -> Problem:
        return Problem(self.file, self.line(path), dotted(path), message)


def dotted(path: Sequence[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


MAX_VALUES = 100_000
"""Values a document may expand to: YAML aliases repeat what they name, so a few lines can
stand for billions of values (an alias bomb)."""
MAX_DEPTH = 100
"""How deeply a document's values may nest."""
MAX_DIGITS = 4_300
"""Digits of an integer (Python's own limit for turning text into an int)."""


def parse_yaml(text: str, file: str, *, line_offset: int = 0) -> Located:
    """Parse YAML, keeping each node's line; duplicate keys, syntax errors and documents
    that are too big, too deep or not plain data are Problems."""
    from ..errors import InputError

    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return Located(file, None, {(): 1 + line_offset})
        problems: list[Problem] = []
        lines: dict[Path_, int] = {}
        _Walk(lines, problems, file, line_offset).node(node, (), 0)
        if problems:
            raise InputError(problems)
        value = loader.construct_document(node)
    except RecursionError:
        raise InputError(
            Problem(file, None, "", f"nested too deeply (at most {MAX_DEPTH} levels)")
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 + line_offset if mark else None
        raise InputError(Problem(file, line, "", f"invalid YAML: {exc.problem}")) from None
    except yaml.YAMLError as exc:
        raise InputError(Problem(file, None, "", f"invalid YAML: {exc}")) from None
    finally:
        loader.dispose()
    return Located(file, value, lines)


class _Walk:
    """Each node's line, checked as it goes: keys plain and unique, the document within
    MAX_VALUES values (aliases counted each time they are used) and MAX_DEPTH levels."""

    def __init__(
        self, lines: dict[Path_, int], problems: list[Problem], file: str, offset: int
    ) -> None:
        self.lines = lines
        self.problems = problems
        self.file = file
        self.offset = offset
        self.values = 0

    def node(self, node: yaml.Node, path: Path_, depth: int) -> None:
        line = node.start_mark.line + 1 + self.offset
        self.lines.setdefault(path, line)
        self.values += 1
        if self.values > MAX_VALUES:
            if self.values == MAX_VALUES + 1:
                message = (
                    f"the document expands to more than {MAX_VALUES:,} values (YAML aliases "
                    "repeat what they name): write it out, or make it smaller"
                )
                self.problems.append(Problem(self.file, line, dotted(path), message))
            return
        if depth > MAX_DEPTH:
            message = f"nested too deeply (at most {MAX_DEPTH} levels)"
            self.problems.append(Problem(self.file, line, dotted(path), message))
            return
        if isinstance(node, yaml.ScalarNode):
            if (
                node.tag == "tag:yaml.org,2002:int"
                and sum(c.isdigit() for c in node.value) > MAX_DIGITS
            ):
                digits = sum(c.isdigit() for c in node.value)
                message = f"a number of {digits:,} digits (at most {MAX_DIGITS:,})"
                self.problems.append(Problem(self.file, line, dotted(path), message))
        elif isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, value_node in node.value:
                key_line = key_node.start_mark.line + 1 + self.offset
                if not isinstance(key_node, yaml.ScalarNode):
                    message = "a key must be a plain value, not a list or a mapping"
                    self.problems.append(Problem(self.file, key_line, dotted(path), message))
                    continue
                key = key_node.value
                if key in seen:
                    self.problems.append(
                        Problem(self.file, key_line, dotted((*path, key)), "duplicate key")
                    )
                seen.add(key)
                self.node(value_node, (*path, key), depth + 1)
                self.lines[(*path, key)] = key_line
        elif isinstance(node, yaml.SequenceNode):
            for index, child in enumerate(node.value):
                self.node(child, (*path, index), depth + 1)


def validate(
    model: type[BaseModel], src: Located, value: Any, path: Path_ = ()
) -> tuple[Any, list[Problem]]:
    """Validate `value` (found at `path` in `src`) with a model; Problems instead of raising."""
    try:
        return model.model_validate(value), []
    except ValidationError as exc:
        return None, translate(exc, src, path, model)


def translate(
    exc: ValidationError, src: Located, path: Path_, model: type[BaseModel] | None = None
) -> list[Problem]:
    problems = []
    for err in exc.errors(include_url=False):
        loc = (*path, *err["loc"])
        problems.append(src.problem(loc, message_of(err, model, err["loc"])))
    return problems


def message_of(err: Any, model: type[BaseModel] | None, loc: tuple[Any, ...]) -> str:
    """What a pydantic error at `loc` (within `model`) means, said for a person."""
    kind = err["type"]
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        known = _fields_at(model, loc[:-1])
        hint = f" (expected one of: {', '.join(known)})" if known else ""
        return f"unknown field{hint}"
    if kind == "value_error":
        # a validator's own message already says what it got
        return str(err["msg"]).removeprefix("Value error, ")
    message = str(err["msg"])
    if "input" in err and not isinstance(err["input"], dict | list):
        message += f", got {err['input']!r}"
    return message


def _fields_at(model: type[BaseModel] | None, loc: tuple[Any, ...]) -> list[str]:
    """Field names of the (nested) model a location points into, for 'unknown field' hints."""
    current: Any = model
    for part in loc:
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        field = current.model_fields.get(str(part))
        if field is None:
            return []
        current = field.annotation
    if isinstance(current, type) and issubclass(current, BaseModel):
        return sorted(current.model_fields)
    return []
