"""The command line: ``vectree --help``."""
