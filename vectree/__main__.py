"""``python -m vectree`` is the ``vectree`` command."""

from vectree.cli.main import app

app(prog_name="vectree")
