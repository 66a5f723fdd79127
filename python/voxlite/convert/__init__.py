"""Official checkpoint -> reference state_dict key maps (one module per family)."""
