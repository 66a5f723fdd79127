"""Export scripts: reference model (or official checkpoint) -> voxlite bundle. They import torch; the runtime never does."""
