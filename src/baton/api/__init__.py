"""The HTTP API and the web control plane (`baton serve`)."""

from .app import create_app

__all__ = ["create_app"]
