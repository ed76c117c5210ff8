"""What `import baton` gives playbook and plugin authors: every exported name, the version,
type information (py.typed), and the names baton 0.1 used for the renamed records."""

from __future__ import annotations

import importlib.metadata
import importlib.resources

import pytest

import baton


def test_every_exported_name_exists() -> None:
    missing = [name for name in baton.__all__ if not hasattr(baton, name)]
    assert missing == []
    for name in ("AgentConfig", "ReviewerConfig", "VerifierConfig", "BuildContext"):
        assert name in baton.__all__
    for name in ("Agent", "Reviewer", "Verifier"):
        assert getattr(baton, name)._is_protocol


def test_version_is_the_distributions() -> None:
    assert baton.__version__ == importlib.metadata.version("baton-orchestrator")


def test_type_information_ships() -> None:
    assert importlib.resources.files("baton").joinpath("py.typed").is_file()


@pytest.mark.parametrize(("old", "new"), [("Task", "Assignment"), ("AttemptView", "Candidate")])
def test_renamed_records_keep_their_old_names_for_now(old: str, new: str) -> None:
    with pytest.warns(DeprecationWarning, match=f"baton.{old} is now baton.{new}"):
        assert getattr(baton, old) is getattr(baton, new)
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        baton.Nope  # type: ignore[attr-defined]  # noqa: B018


def test_every_exported_name_has_one_home() -> None:
    """The lazy table (PEP 562) and __all__ name the same things."""
    assert sorted({*baton._HOMES, "__version__"}) == sorted(baton.__all__)
    assert set(baton.__all__) <= set(dir(baton))
