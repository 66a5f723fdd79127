"""The ``voxlite`` command line."""
