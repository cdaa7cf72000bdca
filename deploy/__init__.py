"""deploy: compile, check, place, emit, simulate and run sinabs models on Speck / DYNAP-CNN chips."""

__version__ = "0.1.0"
