"""Signed outbound notifications: an outbox in the store, delivered with retries."""
