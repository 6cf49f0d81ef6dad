"""Promise to pay: a customer (or the finance team on their behalf) commits to paying one or
more open invoices by a date; a job settles each promise as kept or broken.

Read `plugin.py` first (the hooks), then `service.py` (making, changing, withdrawing and
cancelling promises) and `settle.py` (the job).
"""

__version__ = "0.1.0"
