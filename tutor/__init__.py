"""tutor: an AI tutor service for deep-learning courses."""

__version__ = "0.1.0"
