"""The write path: keys, holds, caps, halts and the hash-chained ledger."""
