"""Alert lifecycle (open → acknowledged → resolved) and the notifiers that deliver them."""
