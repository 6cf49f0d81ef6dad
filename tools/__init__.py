"""Developer commands of the repository (not installed with arportal)."""
