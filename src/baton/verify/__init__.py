"""Verifiers: objective checks on an attempt (commands, schemas, patterns, predicates,
judges).

Each kind is a module here, declared as an entry point of the group `baton.verifiers`.
"""
