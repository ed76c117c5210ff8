"""`python -m baton`: the same command as `baton` (its name in messages and completion)."""

from .cli import main

main(prog_name="baton")
