"""Disputes: a customer says an invoice is wrong, the operator answers and settles it.

Read `plugin.py` first (the hooks), then `disputes.py` (opening, replying, resolving, shared by
the portal and the admin API), `routes.py` (the portal pages), `api.py` (the admin API) and
`notify.py` (mail).
"""

__version__ = "0.1.0"
