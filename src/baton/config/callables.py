"""Importing the callable a playbook names (`module:function`, beside the playbook), for
the python agent and verifier; two playbooks with a module of the same name each get
their own."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any


def import_callable(spec: str, paths: Iterable[Path] = ()) -> Callable[..., Any]:
    """Import 'module:attr' (with extra folders on sys.path); ValueError says what failed."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"expected 'module:function', got {spec!r}")
    paths = list(paths)
    for folder in paths:
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    try:
        module = _own_module(module_name, paths) or importlib.import_module(module_name)
    except SystemExit as exc:  # a module that exits while imported must not end baton
        raise ValueError(
            f"cannot import {module_name!r}: it called exit({exc.code!r}) while being imported"
        ) from None
    except Exception as exc:
        raise ValueError(f"cannot import {module_name!r}: {type(exc).__name__}: {exc}") from None
    target: Any = module
    for part in attr.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ValueError(f"module {module_name!r} has no attribute {attr!r}") from None
    if not callable(target):
        raise ValueError(f"{spec!r} is not callable")
    function: Callable[..., Any] = target
    return function


def _own_module(name: str, paths: list[Path]) -> Any:
    """The module file `name` in the given folders, when another folder's module already
    took that name in this process (two playbooks each with a `clean.py`): loaded under a
    name of its own, so each playbook gets its own code. None: import it the usual way."""
    if "." in name or name not in sys.modules:
        return None
    taken = getattr(sys.modules[name], "__file__", None)
    for folder in paths:
        file = folder / f"{name}.py"
        if not file.is_file():
            continue
        if taken and Path(taken).resolve() == file.resolve():
            return sys.modules[name]
        private = f"_baton_{hashlib.sha1(str(file.resolve()).encode()).hexdigest()[:12]}_{name}"
        if private in sys.modules:
            return sys.modules[private]
        spec = importlib.util.spec_from_file_location(private, file)
        if spec is None or spec.loader is None:
            return None
        module = importlib.util.module_from_spec(spec)
        sys.modules[private] = module
        spec.loader.exec_module(module)
        return module
    return None
