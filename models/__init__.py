"""Reference networks for speck-deploy: ``models.<name>.build_model()`` returns the architecture.

See ``models/README.md`` for the data recipe, the architectures and the accuracy table.
"""
