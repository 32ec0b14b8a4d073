"""``python -m tokenguard``: the same as the ``tokenguard`` command."""

from tokenguard.cli import main

raise SystemExit(main())
