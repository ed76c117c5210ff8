"""Counting words in text."""


def count(text: str) -> int:
    """How many words the text has."""
    return len(text.split())


def longest(text: str) -> str:
    """The longest word (the first of equals)."""
    return max(text.split(), key=len, default="")
