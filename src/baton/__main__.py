"""`python -m baton` runs the command line."""

from .cli import main

main()
