"""jurigged-rs: hot reloading for Python. Save a file and the running program uses the new code."""

from ._jurigged import __version__
