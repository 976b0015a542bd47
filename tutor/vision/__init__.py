"""Pretrained vision models for uploads (tools/pretrained.py), kept per owner for the API and the CLI."""
