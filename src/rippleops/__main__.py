"""``python -m rippleops``: the ``ripple`` command line (how the local supervisor runs
``ripple serve`` with the same interpreter)."""

from rippleops.cli.main import main

main()
