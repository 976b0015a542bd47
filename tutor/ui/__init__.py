"""Chainlit chat UI: an adapter over the same TutorService as the API."""
