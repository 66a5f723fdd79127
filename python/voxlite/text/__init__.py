"""Text front ends: tokenizers and sentence splitting (no torch)."""
