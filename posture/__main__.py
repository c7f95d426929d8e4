"""The `posture` command's entry point, for the console script and `python -m posture`.

It stays light on purpose: importing the command line loads numpy, OpenCV and
the rest for about half a second, and a Ctrl+C in that time would otherwise
end in a traceback. Here it ends as every other interruption does: one line,
exit 130. Once a command runs, `posture.cli.main` handles errors and the
monitor its own signals.
"""

from __future__ import annotations

import signal
import sys


def main() -> None:
    """Run the command line; a Ctrl+C while it loads is an interruption, not a crash."""
    try:
        from posture.cli import main as cli_main

        cli_main()
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl+C: no traceback either
        print("posture: interrupted", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
