"""The ``ripple`` command line, a thin layer on :class:`rippleops.Client`."""
