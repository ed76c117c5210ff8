"""Reviewers: who decides on an attempt (agents, people, policies)."""

from .base import Reviewer

__all__ = ["Reviewer"]
