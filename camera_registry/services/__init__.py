"""The domain: framework-free functions that take a session and plain values."""
