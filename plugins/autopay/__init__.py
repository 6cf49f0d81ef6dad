"""Autopay: customers save a payment method on the portal and their invoices are charged on
their due dates, never twice. Payment gateways are plugins of this plugin
(`arportal_payment_gateways`); `sandbox` and `stripe` ship here.
"""

__version__ = "0.1.0"
