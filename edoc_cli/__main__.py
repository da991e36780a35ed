"""`python -m edoc_cli` runs the same command as the `edoc` console script."""

from edoc_cli.main import main

main()
