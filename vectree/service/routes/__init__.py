"""The HTTP routes, one module per resource: collections, rows, search, applications."""
