"""Recipes that build voxlite assets (corpora, bundles); not part of the runtime wheel."""
