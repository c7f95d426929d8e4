"""The command line: the only place that knows about arguments and exit codes.

The exit codes, and the one line every failure prints, are in `posture.cli.exits`.
"""

from __future__ import annotations

import importlib
import logging
import sys

import click

from posture import __version__
from posture.cli.exits import EXIT_BUG, EXIT_OK, describe
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
    "tray": ("posture.cli.tray", "tray"),
    "config": ("posture.cli.config", "config"),
    "report": ("posture.cli.report", "report"),
    "pain": ("posture.cli.report", "pain"),
    "data": ("posture.cli.report", "data"),
    "autostart": ("posture.cli.autostart", "autostart"),
}


class LazyGroup(click.Group):
    """A click group that imports a command's module when the command is asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command's name for --help, from the table: importing them all to
        list them would cost the start-up this class exists to save."""
        return sorted({*self.commands, *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command, its module imported on first use and the command kept."""
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

    \b
    Try it without a camera: posture demo
    Your day: posture calibrate (sit upright for 10 s), then posture monitor
    (or posture tray) while you work, and posture report at the end of it.
    """
    _configure_logging(verbose)
    if network_blocked():
        log.debug("network access blocked for this process (no IP sockets)")
    else:
        log.debug("network access could not be blocked on this platform")


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: every failure becomes one line and an exit code.

    The lines and codes are `posture.cli.exits`'s. First of all it makes the
    process unable to open internet sockets (see `posture.netguard`): MediaPipe's
    native library carries a usage-metrics uploader, and this tool promises that
    nothing leaves the machine.
    """
    block_network()
    try:
        code = cli.main(args=argv, prog_name="posture", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as bare:
        # `posture` or `posture config` alone asks what there is: the help, not an error.
        click.echo(bare.format_message())
        return
    except BrokenPipeError:
        # Output piped into `head` and closed early: not an error for the user.
        sys.stderr.close()
        sys.exit(EXIT_OK)
    except (Exception, KeyboardInterrupt) as error:
        code, line = describe(error)
        words = sys.argv[1:] if argv is None else argv
        if code == EXIT_BUG and ("-v" in words or "--verbose" in words):
            raise
        click.echo(line, err=True)
        sys.exit(code)
    if isinstance(code, int) and code != EXIT_OK:  # a command that chose its exit code
        sys.exit(code)
