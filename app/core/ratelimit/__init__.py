"""Rate limiting: the sliding-window limiter, the header/body monitor and the snapshots the panel renders."""
