"""One module per command; each is imported only when that command runs."""
