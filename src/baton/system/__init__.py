"""The machine baton works on: child processes (allow-listed environment, timeouts, whole
process trees killed), git, and the worktrees of code work.

Imports only the core and the error tree, so the configuration layer (which checks a
playbook's repository when it loads) and the runtime can both use it.
"""
