"""`python -m posture` runs the command line, like the `posture` console script."""

from posture.cli import main

main()
