"""Reviewers: who decides on an attempt (agents, people, policies).

Each kind is a module here, declared as an entry point of the group `baton.reviewers`.
"""
