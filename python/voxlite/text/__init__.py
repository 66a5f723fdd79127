"""Text front ends: tokenizers, the English G2P, sentence splitting (no torch). ``frontends`` finds a bundle's."""
