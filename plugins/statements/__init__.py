"""Account and outstanding-balance statements, as PDF and CSV, on the portal and the API."""
