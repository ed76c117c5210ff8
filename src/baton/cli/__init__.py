"""The `baton` command line: run playbooks, watch and inspect items, act as the human in
the loop, manage agents, measure. Every command works on one store (--store).

The group is in app.py; each module here adds its commands to it when imported.
"""

from . import demo, doctor, init, inspect, people, run, serve, transfer
from .app import main

__all__ = ["demo", "doctor", "init", "inspect", "main", "people", "run", "serve", "transfer"]
