"""Experiment tools: one readable PyTorch file per experiment (see tools/registry.py)."""
