"""The ``vectree`` command: collection commands at the top level, applications as sub-commands."""

from __future__ import annotations

import importlib
import logging

import typer

app = typer.Typer(
    name="vectree",
    help="vectree: persistent vector collections with a bucketed tree index, on disk or in object storage.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Sub-applications live in their own modules; each exposes a Typer ``app``.
_SUBCOMMANDS = {
    "classify": ("vectree.cli.classify", "Document classification: fit, predict, evaluate."),
    "recommend": ("vectree.cli.recommend", "Recommendations: fit, evaluate, for-user."),
    "experiment": ("vectree.cli.experiment", "A/B tests: plan, analyze, backtest."),
    "keys": ("vectree.cli.keys", "API keys of a service root: create, list, revoke."),
    "embed": ("vectree.cli.embed", "Embeddings: images (convolutional autoencoder, supervised CNN)."),
}
# Top-level command modules (they register on ``app``).
_COMMANDS = ["vectree.cli.collection", "vectree.cli.lifecycle", "vectree.cli.text", "vectree.cli.serve"]


@app.callback()
def _main(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress details.")) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )


def _register() -> None:
    for module in _COMMANDS:
        importlib.import_module(module)
    for name, (module, help_text) in _SUBCOMMANDS.items():
        try:
            sub = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name == module:
                continue  # that application is not part of this build
            raise
        app.add_typer(sub.app, name=name, help=help_text)


_register()

if __name__ == "__main__":
    # Run as a script this module is ``__main__``, a second copy: the commands are registered on the
    # imported ``vectree.cli.main``'s app, so that is the one to call.
    from vectree.cli.main import app as registered

    registered(prog_name="vectree")
