"""What the CLI and the API share: people's actions, the views people look at (the inbox,
the fleet), metrics, the audit, API tokens and roles, and moving a history between stores.

Imports the core, config, store, system and runtime (a person's action is recorded
through the same write path as the engine's steps).
"""
