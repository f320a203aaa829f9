"""Registry defaults the flag layer shows in --help, kept apart from the transport so that
declaring the flags imports no HTTP stack (requests costs ~25 ms of every command's start)."""

# Requests in flight per registry. Round trips dominate a cold run, so more in flight is faster
# (bench/estimate.py); a registry that answers 429 halves it for the rest of the run.
DEFAULT_CONCURRENCY = 64

# Seconds a tag's digest is trusted before it is checked again, when no --cache-ttl says otherwise.
DEFAULT_TTL = 3600.0
