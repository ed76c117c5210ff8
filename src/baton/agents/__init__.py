"""Agents: who does the work of an attempt (programs, commands, people, models).

Each kind is a module here, declared as an entry point of the group `baton.agents`.
"""
