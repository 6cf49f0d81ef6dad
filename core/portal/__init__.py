"""The customer portal: server-rendered pages under /p/<token> and /portal."""
