"""Fingerprints: generation, injection, checking and commitments (DESIGN.md §6)."""
