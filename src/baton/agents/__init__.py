"""Agents: who does the work of an attempt (programs, commands, people, models)."""

from .base import Agent

__all__ = ["Agent"]
