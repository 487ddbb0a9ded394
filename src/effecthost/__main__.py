"""``python -m effecthost``: the command line, as the ``effecthost`` script runs it."""

from .cli import main

if __name__ == "__main__":
    main()
