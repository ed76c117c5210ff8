"""`baton init [DIR]`: a working playbook, its items, its schema and its checks, written
where a user can run them at once (templates in baton/templates/: basic, code, model)."""

from __future__ import annotations

import shutil
import subprocess
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import click

from ..errors import InputError, RuntimeFailure
from .app import Context, activate_hint, main, pass_context

TEMPLATES = {
    "basic": "a Python function cleans records; a JSON schema checks them; a policy approves",
    "code": "code work on a git repository: a worktree per attempt, tests, baton apply",
    "model": "the on-device model writes summaries, held to a schema and checked by a rule",
}
NEXT = {
    "basic": ["baton validate playbook.yaml items.jsonl", "baton run playbook.yaml items.jsonl"],
    "code": [
        "baton run playbook.yaml items.jsonl",
        "baton show rename-count",
        "baton apply rename-count",
    ],
    "model": ["baton run playbook.yaml items.jsonl"],
}


def files(template: str) -> list[tuple[str, Traversable]]:
    """(relative path, source) of every file of a template, in order."""
    root = resources.files("baton.templates").joinpath(template)
    found: list[tuple[str, Traversable]] = []

    def walk(folder: Traversable, prefix: str) -> None:
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if entry.name == "__pycache__":
                continue
            if entry.is_dir():
                walk(entry, f"{prefix}{entry.name}/")
            else:
                found.append((f"{prefix}{entry.name}", entry))

    walk(root, "")
    return found


@main.command("init")
@click.argument("folder", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--template",
    type=click.Choice(list(TEMPLATES)),
    default="basic",
    show_default=True,
    help="; ".join(f"{name}: {what}" for name, what in TEMPLATES.items()),
)
@pass_context
def init_cmd(ctx: Context, folder: Path, template: str) -> None:
    """Write a playbook that works, with its items, schema and checks, into FOLDER (the
    current one by default); nothing is overwritten: a file that exists is an error and
    nothing is written."""
    chosen = files(template)
    taken = [rel for rel, _ in chosen if (folder / rel).exists()]
    if template == "code" and (folder / "repo").exists():
        taken.append("repo/")
    if taken:
        raise InputError(
            f"{folder}: {', '.join(sorted(set(taken)))} exist(s) already; nothing was written "
            "(choose an empty folder: baton init FOLDER)"
        )
    if template == "code" and shutil.which("git") is None:
        raise InputError("--template code needs git, which is not on PATH; nothing was written")
    for rel, source in chosen:
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(source.read_bytes())
    if template == "code":
        _commit_repo(folder / "repo")
    ctx.line(f"wrote a {template} playbook to {folder}/: {', '.join(r for r, _ in chosen)}")
    if template == "code":
        ctx.line(f"and made {folder}/repo a git repository (branch main, one commit)")
    steps = ([] if folder == Path(".") else [f"cd {folder}"]) + NEXT[template]
    hint = activate_hint()
    ctx.line(f"next: {hint}" if hint else "next:")
    for step in steps:
        ctx.line(f"  {step}")


def _commit_repo(repo: Path) -> None:
    """The code template's project as a git repository with one commit on main."""
    identity = ["-c", "user.name=baton init", "-c", "user.email=baton@localhost"]
    for args in (
        ["init", "--quiet", "--initial-branch=main"],
        ["add", "."],
        [*identity, "commit", "--quiet", "--no-gpg-sign", "-m", "wordcount with count()"],
    ):
        done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeFailure(f"git {args[0]} failed in {repo}: {done.stderr.strip()}")
