"""The root typer app and the one place that maps library errors to exit codes."""

from __future__ import annotations

import functools
import os
import sys

import typer
from rich.console import Console
from rich.markup import escape

from planner.errors import EXIT_INPUT, GreencacheError
from planner.interrupt import Terminated

app = typer.Typer(
    name="greencache",
    help="Carbon-aware capacity planning for LLM serving with an SSD KV-cache tier.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

EXIT_INTERNAL = 1
# The shell's codes for a process ended by a signal: 128 + SIGINT (2) or SIGTERM (15).
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143

# Piped output (CI logs, `| less`) gets a wide fixed width instead of rich's 80 columns, so
# the schedule table is not folded into unreadable slivers; COLUMNS still overrides.
console = Console(highlight=False,
                  width=None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 160)
err_console = Console(stderr=True, highlight=False)


def handle_errors(fn):
    """Run a command body; a GreencacheError becomes one sentence and its exit code.

    Anything else is a bug in greencache: it is reported in one line too (exit 1), with the
    traceback only when GREENCACHE_DEBUG is set.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except GreencacheError as e:
            # Messages quote user input (file names, TOML tables): print them as text, not markup.
            err_console.print(f"[bold red]error:[/] {escape(str(e))}", soft_wrap=True)
            extra = getattr(e, "diagnostics", None)
            if extra:
                for line in extra:
                    err_console.print(f"  {escape(str(line))}", soft_wrap=True)
            raise typer.Exit(e.exit_code) from None
        except typer.Exit:
            raise
        except OSError as e:
            # A file that vanished, a folder given as a file, a full disk: the input or the
            # environment, not a bug. Readers check their files first; this is the net.
            where = f" {e.filename}" if e.filename else ""
            err_console.print(f"[bold red]error:[/] cannot use{where}: "
                              f"{e.strerror or type(e).__name__}", soft_wrap=True)
            raise typer.Exit(EXIT_INPUT) from None
        except UnicodeDecodeError:
            err_console.print("[bold red]error:[/] an input file is not UTF-8 text",
                              soft_wrap=True)
            raise typer.Exit(EXIT_INPUT) from None
        except KeyboardInterrupt as e:
            # A command that keeps finished work (a sweep's cached points) says so in the
            # interrupt's note; every other output is all or nothing.
            what = "terminated" if isinstance(e, Terminated) else "interrupted"
            err_console.print(f"{what}; {getattr(e, 'note', 'no output was written')}",
                              markup=False, soft_wrap=True)
            raise typer.Exit(EXIT_TERMINATED if isinstance(e, Terminated)
                             else EXIT_INTERRUPTED) from None
        except Exception as e:  # noqa: BLE001 - the last line of defence for the user
            if os.environ.get("GREENCACHE_DEBUG"):
                raise
            err_console.print(
                f"[bold red]internal error:[/] {type(e).__name__}: {escape(str(e))} (set GREENCACHE_DEBUG=1 "
                "for the traceback and please report it)", soft_wrap=True)
            raise typer.Exit(EXIT_INTERNAL) from None

    return wrapper


def is_tty() -> bool:
    return sys.stderr.isatty()
