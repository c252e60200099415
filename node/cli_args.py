"""What the commands that talk to a running node take alike: which node, and a staff token."""

import argparse
import json
import os
import urllib.error

from node.config import Settings


class TokenMissing(ValueError):
    """No staff token could be read; the message says where one is taken from."""


def node_default(args: argparse.Namespace) -> None:
    """Without --node, the node that `creditchain run` starts with the same environment."""
    if args.node is None:
        args.node = os.environ.get("CREDITCHAIN_NODE") or Settings().node_url


def staff_token(args: argparse.Namespace, *, role: str) -> str:
    """The token from --token-file, else from CREDITCHAIN_TOKEN (never from the command line,
    where other users of the machine could read it)."""
    if args.token_file:
        try:
            token = args.token_file.read_text().strip()
        except (OSError, UnicodeDecodeError) as err:
            raise TokenMissing(f"cannot read --token-file {args.token_file}: {err}") from None
    else:
        token = os.environ.get("CREDITCHAIN_TOKEN", "").strip()
    if not token:
        raise TokenMissing(f"give --token-file FILE ({role} staff token) or set CREDITCHAIN_TOKEN")
    return token


def refusal(err: urllib.error.HTTPError) -> str:
    """A node's refusal as "code: detail" from its problem body (the HTTP error otherwise)."""
    try:
        problem = json.loads(err.read())
        return f"{problem.get('error')}: {problem.get('detail')}"
    except ValueError:
        return str(err)
