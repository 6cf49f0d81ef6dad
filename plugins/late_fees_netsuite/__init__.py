"""Late fees for NetSuite: fees assessed on overdue invoices, posted to NetSuite as invoices.

Read `plugin.py` first (the hooks), then `policy.py` (what a fee is), `assess.py` (the job
that writes fees), `netsuite.py` (the signed REST client) and `posting.py` (fees and credit
memos sent to NetSuite), `routes.py` (the admin API).
"""

__version__ = "0.1.0"
