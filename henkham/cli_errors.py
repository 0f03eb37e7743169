"""How every ``henkham`` command refuses: one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import sys
from typing import Any

import click
from pydantic import ValidationError

from core.errors import DomainError

# A row id on the command line: one the database can hold (a larger one is no row, not a crash).
ROW_ID = click.IntRange(1, 2**31 - 1)


class OneLineErrors(click.Group):
    """A refused request (a service's DomainError, input that fails validation) exits 1 with one line; a bad
    option or argument exits 2 with one line, as click's own usage errors do."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DomainError as error:
            click.echo(f"error: {error.message}", err=True)
            sys.exit(1)
        except ValidationError as error:
            click.echo(f"error: {one_line(error)}", err=True)
            sys.exit(1)
        except click.UsageError as error:
            click.echo(f"error: {error.format_message()}", err=True)
            sys.exit(2)


def one_line(error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"] if part not in ("target",)) or "target"
        message = str(item["msg"]).removeprefix("Value error, ")
        problems.append(f"{where}: {message}")
    return "; ".join(problems)
