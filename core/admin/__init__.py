"""The admin JSON API under /api/v1, authenticated with a tenant's API key."""
