"""PyTorch reference implementations (the only part of voxlite, with convert/ and export/, that imports torch; the
runtime never imports them)."""
