"""Verify that the output is JSON matching a JSON Schema; every violation is evidence."""

from __future__ import annotations

import json
from typing import Any, Literal

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import Field, model_validator

from ..config.plugin import BuildContext, VerifierConfig
from ..core.records import Candidate, CheckResult


class JsonSchemaVerifierConfig(VerifierConfig):
    kind: Literal["json_schema"] = "json_schema"
    # "schema" would shadow BaseModel.schema, so the field has another name and an alias
    schema_: dict[str, Any] | None = Field(None, alias="schema")
    schema_file: str | None = None

    @model_validator(mode="after")
    def _one_schema(self) -> JsonSchemaVerifierConfig:
        if (self.schema_ is None) == (self.schema_file is None):
            raise ValueError("give exactly one of schema or schema_file")
        return self

    def resolved(self, ctx: BuildContext | None = None) -> dict[str, Any]:
        if self.schema_ is not None:
            return self.schema_
        assert self.schema_file is not None and ctx is not None
        text = ctx.read_file(self.schema_file, "schema_file")
        try:
            schema: Any = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"schema_file {ctx.path(self.schema_file)}: not valid JSON: {exc.msg} "
                f"(line {exc.lineno})"
            ) from None
        except (RecursionError, ValueError) as exc:
            raise ValueError(f"schema_file {ctx.path(self.schema_file)}: {exc}") from None
        if not isinstance(schema, dict):
            raise ValueError(
                f"schema_file {ctx.path(self.schema_file)}: expected a JSON object (a schema)"
            )
        return schema

    def build(self, name: str, ctx: BuildContext) -> JsonSchemaVerifier:
        schema = self.resolved(ctx)
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            raise ValueError(f"not a valid JSON Schema: {exc.message}") from None
        return JsonSchemaVerifier(name, schema)

    def describe(self, ctx: BuildContext | None = None) -> dict[str, Any]:
        # the schema itself, so an agent can read it (and a model be constrained by it)
        if self.schema_ is not None or ctx is not None:
            schema: Any = self.resolved(ctx)
        else:
            schema = {"file": self.schema_file}
        return {
            "kind": self.kind,
            "description": self.description or "output is JSON matching this schema",
            "schema": schema,
        }


class JsonSchemaVerifier:
    def __init__(self, name: str, schema: dict[str, Any]) -> None:
        self.name = name
        self.validator = Draft202012Validator(schema)

    async def verify(self, candidate: Candidate) -> CheckResult:
        try:
            value = candidate.json_value()
        except ValueError as exc:
            snippet = candidate.text[:300]
            return CheckResult(False, f"output is not valid JSON: {exc}\noutput began: {snippet!r}")
        errors = sorted(self.validator.iter_errors(value), key=lambda e: list(e.absolute_path))
        if not errors:
            return CheckResult(True, "output matches the schema")
        lines = [f"at {e.json_path}: {e.message}" for e in errors]
        return CheckResult(False, f"{len(errors)} schema violation(s):\n" + "\n".join(lines))
