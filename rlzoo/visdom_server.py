"""Start a visdom server that works offline and listens on the loopback interface by default.

``python -m visdom.server`` first downloads its web assets and exits when it cannot; it also listens on every
interface. This command skips the download (the assets come from the npm registry through
:mod:`rlzoo.visdom_assets`, with ``--install-assets`` or beforehand) and binds only the address given
(``127.0.0.1`` by default).

Command line::

    python -m rlzoo.visdom_server [--port 8097] [--hostname 127.0.0.1] [--env-path DIR] [--install-assets]

Without the assets the Python client (line plots, ``get_window_data``) works, but the page in a browser stays blank;
the command says so at start.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Sequence

from rlzoo.visdom_assets import install_assets, missing_assets, visdom_static_dir

logger = logging.getLogger(__name__)

#: visdom's default port.
DEFAULT_PORT = 8097
#: where visdom keeps its saved environments (visdom's own default).
DEFAULT_ENV_PATH = os.path.join(os.path.expanduser("~"), ".visdom")


def _lenient_static_handler() -> type:
    """A tornado ``StaticFileHandler`` whose URL versioning accepts paths outside the static folder.

    visdom's page links ``static_url("../user/style.css")``. Since tornado 6.6 computing the version of a path outside
    the static folder raises HTTP 403, which turns the whole page into an error. This handler leaves such URLs
    unversioned instead; what is served, and the checks on it, do not change.
    """
    from tornado.web import HTTPError, StaticFileHandler

    class LenientVersionStaticFileHandler(StaticFileHandler):
        @classmethod
        def get_version(cls, settings: dict, path: str) -> str | None:
            try:
                return super().get_version(settings, path)
            except HTTPError:
                return None

    return LenientVersionStaticFileHandler


def serve(port: int = DEFAULT_PORT, hostname: str = "127.0.0.1", env_path: str = DEFAULT_ENV_PATH) -> None:
    """Run a visdom server until the process is stopped (blocks).

    :param port: TCP port.
    :param hostname: address to listen on (``0.0.0.0`` for every interface).
    :param env_path: folder where visdom saves and reloads its environments.
    """
    from tornado import ioloop
    from visdom.server.app import Application

    os.makedirs(env_path, exist_ok=True)
    # visdom expects a trailing separator on env_path (it builds some paths by concatenation).
    app = Application(port=port, base_url="", env_path=os.path.join(env_path, ""))
    app.settings["static_handler_class"] = _lenient_static_handler()  # only used to build static URLs
    app.listen(port, address=hostname, max_buffer_size=1024**3)
    print(f"visdom server listening on http://{hostname}:{port}", flush=True)
    ioloop.IOLoop.current().start()


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point of ``python -m rlzoo.visdom_server``; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m rlzoo.visdom_server", description="Start a visdom server without downloading anything."
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT})")
    parser.add_argument("--hostname", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--env-path", default=DEFAULT_ENV_PATH, help=f"saved environments (default {DEFAULT_ENV_PATH})")
    parser.add_argument(
        "--install-assets", action="store_true", help="first fetch missing web assets from the npm registry"
    )
    parser.add_argument("--logging-level", default="WARNING", help="server log level (default WARNING)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.logging_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    if args.install_assets:
        try:
            install_assets()
        except Exception as exc:  # noqa: BLE001 (the server is still useful to the Python client without them)
            logger.error("could not install visdom's web assets: %s", exc)
    missing = missing_assets()
    if missing:
        logger.warning(
            "%d web assets are missing from %s: the Python client works, but the page will not render in a browser "
            "(run `python -m rlzoo.visdom_assets` or pass --install-assets)",
            len(missing),
            visdom_static_dir(),
        )
    try:
        serve(args.port, args.hostname, args.env_path)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
