"""Code work: each attempt in its own git worktree on its own branch, its change collected
as a diff against the item's base commit, checked against the playbook's limits, applied
to a branch, a checkout or a patch file once accepted. The user's checkout is never
touched except by an explicit apply, which checks first and changes nothing on conflict.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import re
import shutil
from pathlib import Path
from typing import Any

from ..core.plan import CodePlan
from .git import GitError, git, probe

_REF_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


# --- validating a repository and a base (at load and at scope) ------------------------
class BaseProblem(ValueError):
    """A repository or base that cannot be worked from; `field` is repo or base."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def resolve_base(repo: Path, base: str) -> str:
    """The commit `base` names in `repo`; BaseProblem saying what is wrong.

    A base of HEAD means the checkout as it is, so it must be clean: work delegated from
    a checkout with uncommitted changes would silently leave them out.
    """
    if not repo.is_dir():
        raise BaseProblem("repo", f"{repo}: no such folder (expected a git repository)")
    code, top = probe("rev-parse", "--show-toplevel", cwd=repo)
    if code != 0:
        reason = top.splitlines()[0] if top else "git rev-parse failed"
        raise BaseProblem("repo", f"{repo} is not a git repository ({reason})")
    code, commit = probe("rev-parse", "--verify", "--quiet", f"{base}^{{commit}}", cwd=repo)
    if code != 0 or not commit:
        raise BaseProblem(
            "base", f"base {base!r} is not a commit in {repo} (no such branch, tag or sha)"
        )
    if base == "HEAD":
        code, dirty = probe("status", "--porcelain", "--untracked-files=no", cwd=repo)
        if code != 0:
            raise BaseProblem("repo", f"cannot read the status of {repo}: {dirty}")
        if dirty:
            changed = ", ".join(line[3:] for line in dirty.splitlines()[:5])
            raise BaseProblem(
                "base",
                f"{repo} has uncommitted changes ({changed}): commit or stash them, "
                "or name a base ref (workspace.base) to work from",
            )
    return commit


def branch_name(item_id: str, attempt: int) -> str:
    """The attempt's branch: baton/ITEM/N (an id git would refuse is replaced by a hash)."""
    safe = item_id if _REF_SAFE.match(item_id) and ".." not in item_id else None
    if safe is None or safe.endswith((".lock", ".")):
        safe = "item-" + hashlib.sha1(item_id.encode()).hexdigest()[:12]
    return f"baton/{safe}/{attempt}"


def accepted_branch(item_id: str) -> str:
    """Where `on_accept: branch` puts an item's accepted change: baton/accepted/ITEM."""
    return "baton/accepted/" + branch_name(item_id, 0).removeprefix("baton/").removesuffix("/0")


def worktree_path(state_dir: Path, item_id: str, attempt: int) -> Path:
    return (
        state_dir / "worktrees" / branch_name(item_id, attempt).removeprefix("baton/")
    ).resolve()


# --- an attempt's worktree ------------------------------------------------------------
async def prepare(plan: CodePlan, state_dir: Path, item_id: str, attempt: int) -> Path:
    """A fresh worktree at the item's base commit on the attempt's own branch."""
    repo = Path(plan.repo)
    path = worktree_path(state_dir, item_id, attempt)
    branch = branch_name(item_id, attempt)
    await remove(repo, path, branch, keep_branch=False)  # a crash may have left one here
    path.parent.mkdir(parents=True, exist_ok=True)
    await git("worktree", "add", "--quiet", "-b", branch, str(path), plan.commit, cwd=repo)
    return path


async def remove(repo: Path, path: Path, branch: str, *, keep_branch: bool) -> None:
    """Remove an attempt's worktree (and its branch unless asked to keep it)."""
    if path.exists():
        await git("worktree", "remove", "--force", str(path), cwd=repo, check=False)
        shutil.rmtree(path, ignore_errors=True)
    await git("worktree", "prune", cwd=repo, check=False)
    if not keep_branch:
        await git("branch", "-D", branch, cwd=repo, check=False)


# --- the change an attempt made ---------------------------------------------------------
class ChangeRefused(Exception):
    """The attempt's change breaks the playbook's limits; the message says which and why."""

    def __init__(self, message: str, change: dict[str, Any]) -> None:
        super().__init__(message)
        self.change = change


async def collect(plan: CodePlan, path: Path, item_id: str, attempt: int) -> dict[str, Any]:
    """Commit whatever the agent left in the worktree (committed or not) and describe the
    change against the base: diff, files with line counts, the commit and branch.

    Raises ChangeRefused (with the change's summary) when it breaks a limit.
    """
    await git("add", "--all", cwd=path)
    status = await git("status", "--porcelain", cwd=path)
    if status.strip():
        message = f"baton: {item_id} attempt {attempt}"
        await git("commit", "--quiet", "--no-verify", "--no-gpg-sign", "-m", message, cwd=path)
    head = (await git("rev-parse", "HEAD", cwd=path)).strip()
    numstat = await git("diff", "--numstat", "-z", "--no-renames", plan.commit, head, cwd=path)
    files = _numstat(numstat)
    diff = await git("diff", "--binary", "--no-color", "--no-renames", plan.commit, head, cwd=path)
    added = sum(f["added"] for f in files)
    removed = sum(f["removed"] for f in files)
    change: dict[str, Any] = {
        "base": plan.commit,
        "commit": head,
        "branch": branch_name(item_id, attempt),
        "files": files,
        "added": added,
        "removed": removed,
        "diff": diff,
    }
    outside = [f["path"] for f in files if not allowed(f["path"], plan.paths)]
    if outside:
        raise ChangeRefused(
            f"the change touches {len(outside)} file(s) outside the allowed paths "
            f"({', '.join(plan.paths)}): {', '.join(outside[:10])}",
            _summary(change),
        )
    if added + removed > plan.max_diff_lines:
        raise ChangeRefused(
            f"the change is {added + removed} lines (+{added} -{removed}), more than "
            f"max_diff_lines {plan.max_diff_lines}",
            _summary(change),
        )
    if len(diff.encode()) > plan.max_diff_bytes:
        raise ChangeRefused(
            f"the diff is {len(diff.encode()):,} bytes, more than max_diff_bytes "
            f"{plan.max_diff_bytes:,}",
            _summary(change),
        )
    if not files and not plan.allow_empty:
        raise ChangeRefused("the agent changed nothing in its worktree", _summary(change))
    return change


def allowed(path: str, patterns: tuple[str, ...]) -> bool:
    """Whether a changed path is within the allowed globs (none given: everything is)."""
    if not patterns:
        return True
    return any(
        fnmatch.fnmatchcase(path, p) or path.startswith(p.rstrip("/") + "/") for p in patterns
    )


def _numstat(raw: str) -> list[dict[str, Any]]:
    files = []
    for record in raw.split("\0"):
        if not record.strip():
            continue
        added, removed, path = record.split("\t", 2)
        binary = added == "-"
        files.append(
            {
                "path": path,
                "added": 0 if binary else int(added),
                "removed": 0 if binary else int(removed),
                "binary": binary,
            }
        )
    return files


def _summary(change: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in change.items() if k != "diff"}


# --- applying an accepted change ---------------------------------------------------------
class ApplyError(GitError):
    """The change cannot be applied where asked; nothing was changed there."""


async def apply_to_checkout(repo: Path, change: dict[str, Any]) -> str:
    """Apply the diff to the working tree of `repo`, checked first: all or nothing."""
    diff = change["diff"]
    if not diff.strip():
        return "nothing to apply: the change is empty"
    try:
        await git("apply", "--check", "--binary", "-", cwd=repo, stdin=diff)
    except GitError as exc:
        raise ApplyError(
            f"the change does not apply to the checkout at {repo}; nothing was changed "
            f"(apply it to a branch with --branch NAME and merge, or write --patch FILE):\n"
            f"{_git_detail(exc)}"
        ) from None
    await git("apply", "--binary", "-", cwd=repo, stdin=diff)
    files = ", ".join(f["path"] for f in change["files"][:10])
    return f"applied to the working tree of {repo}: {files} (not committed)"


async def apply_to_branch(repo: Path, change: dict[str, Any], branch: str) -> str:
    """Create `branch` holding the change on top of its base (the user's checkout untouched)."""
    code, _ = probe("rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", cwd=repo)
    if code == 0:
        raise ApplyError(f"branch {branch!r} already exists in {repo}: choose another name")
    code, _ = probe("check-ref-format", "--branch", branch, cwd=repo)
    if code != 0:
        raise ApplyError(f"{branch!r} is not a valid branch name")
    commit = change.get("commit", "")
    code, _ = probe("cat-file", "-e", f"{commit}^{{commit}}", cwd=repo)
    if not commit or code != 0:
        commit = await _recommit(repo, change)
    await git("branch", branch, commit, cwd=repo)
    return f"branch {branch} at {commit[:12]} in {repo} (base {change['base'][:12]})"


async def _recommit(repo: Path, change: dict[str, Any]) -> str:
    """The change as a commit on its base, rebuilt from the recorded diff (the attempt's
    own commit is gone: another machine, or its branch was deleted)."""
    code, _ = probe("cat-file", "-e", f"{change['base']}^{{commit}}", cwd=repo)
    if code != 0:
        raise ApplyError(f"the change's base {change['base'][:12]} is not in {repo}")
    scratch = repo / ".git" / "baton-apply"
    shutil.rmtree(scratch, ignore_errors=True)
    await git("worktree", "add", "--quiet", "--detach", str(scratch), change["base"], cwd=repo)
    try:
        await git("apply", "--binary", "--index", "-", cwd=scratch, stdin=change["diff"])
        await git(
            "commit", "--quiet", "--no-verify", "--no-gpg-sign", "-m", "baton: change", cwd=scratch
        )
        return (await git("rev-parse", "HEAD", cwd=scratch)).strip()
    except GitError as exc:
        raise ApplyError(
            f"the recorded diff does not apply to its base: {_git_detail(exc)}"
        ) from None
    finally:
        with contextlib.suppress(GitError):
            await git("worktree", "remove", "--force", str(scratch), cwd=repo)


def _git_detail(exc: GitError) -> str:
    text = str(exc)
    return text.split(": ", 2)[-1] if ": " in text else text
