"""Shared building blocks of the reference models, written once and used by every family."""
