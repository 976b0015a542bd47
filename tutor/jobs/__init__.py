"""Persistent experiment queue: worker processes (or Ray tasks), live events, quotas."""
