"""Branding: the tenant's colours, logo and name on the portal, in mail and PDFs; contact
details and shared documents on every portal page; mail from the tenant's verified address."""

__version__ = "0.1.0"
