"""``python -m tokenguard``: the same as the ``tokenguard`` command."""

from tokenguard.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
