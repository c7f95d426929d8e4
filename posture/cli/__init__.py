"""The command line: the only place that knows about arguments and exit codes.

Exit codes: 0 success; 1 a posture error (bad profile, calibration refused, bad
labels); 2 bad arguments, an unreadable source, a bad configuration or an
unavailable notifier; 3 the bundled model is broken; 130 interrupted (Ctrl+C).
"""

from __future__ import annotations

import importlib
import logging
import sys

import click

from posture import __version__
from posture.cli.common import stderr
from posture.errors import PostureError
from posture.netguard import block_network, network_blocked

log = logging.getLogger("posture")


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="posture: %(levelname)s: %(message)s",
        stream=sys.stderr,
    )


# Each command's module and name. A command's module is imported only when that
# command runs, so `posture report` starts without OpenCV, NumPy or MediaPipe.
COMMANDS = {
    "analyze": ("posture.cli.analyze", "analyze"),
    "calibrate": ("posture.cli.calibrate", "calibrate"),
    "profile": ("posture.cli.calibrate", "profile"),
    "evaluate": ("posture.cli.evaluate", "evaluate_command"),
    "monitor": ("posture.cli.monitor", "monitor"),
    "demo": ("posture.cli.monitor", "demo"),
    "config": ("posture.cli.config", "config"),
    "report": ("posture.cli.report", "report"),
    "pain": ("posture.cli.report", "pain"),
    "data": ("posture.cli.report", "data"),
}


class LazyGroup(click.Group):
    """A click group that imports a command's module when the command is asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = self.commands.get(cmd_name)
        if command is None and cmd_name in COMMANDS:
            module, name = COMMANDS[cmd_name]
            command = getattr(importlib.import_module(module), name)
            self.add_command(command, cmd_name)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="posture")
@click.option("-v", "--verbose", is_flag=True, help="Log what happens, for troubleshooting.")
def cli(verbose: bool) -> None:
    """A local, private posture coach.

    Measures thoracic slouch and neck angle from a webcam, a video or photos
    with MediaPipe's pose model, against your own calibrated upright posture.
    Frames stay in memory: nothing is written or sent anywhere.

    Start with `posture calibrate`, then `posture analyze`.
    """
    _configure_logging(verbose)
    if network_blocked():
        log.debug("network access blocked for this process (no IP sockets)")
    else:
        log.debug("network access could not be blocked on this platform")


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: turns domain errors into one-line messages.

    First of all it makes the process unable to open internet sockets (see
    `posture.netguard`): MediaPipe's native library carries a usage-metrics
    uploader, and this tool promises that nothing leaves the machine.
    """
    block_network()
    try:
        cli.main(args=argv, prog_name="posture", standalone_mode=False)
    except click.exceptions.Abort:
        stderr().print("posture: interrupted")
        sys.exit(130)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        stderr().print("posture: interrupted")
        sys.exit(130)
    except PostureError as error:
        click.echo(f"posture: error: {error}", err=True)
        sys.exit(error.exit_code)
    except BrokenPipeError:
        # Output piped into `head` and closed early: not an error for the user.
        sys.stderr.close()
        sys.exit(0)
    except Exception as error:  # a bug, not a bad input: say so in one line
        words = sys.argv[1:] if argv is None else argv
        if "-v" in words or "--verbose" in words:
            raise
        click.echo(
            f"posture: internal error: {type(error).__name__}: {error} "
            "(a bug: please report it; run with --verbose for the details)",
            err=True,
        )
        sys.exit(70)
