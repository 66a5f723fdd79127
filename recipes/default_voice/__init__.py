"""The bundled default voice: teacher corpus recipe (see README.md)."""
