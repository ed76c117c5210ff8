"""Verifiers: objective checks on an attempt (commands, schemas, patterns, predicates)."""

from .base import Verifier

__all__ = ["Verifier"]
