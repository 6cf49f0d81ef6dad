"""Payment reminders opt-in: an example arportal plugin that uses every hook.

It imports only `arportal` (the public API), litestar, piccolo and msgspec, like any
third-party plugin.
"""

__version__ = "0.1.0"
