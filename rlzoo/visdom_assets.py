"""Install visdom's web assets from the npm registry, so its page renders on a machine without internet access.

``python -m visdom.server`` downloads about twenty scripts, style sheets and fonts into the ``static/`` folder of the
visdom package before it starts (``download_scripts`` in ``visdom/server/build.py``, visdom 0.2.4), and exits when it
cannot. Every one of them is a file of an npm package at the same version, so this module fetches those packages
with ``npm pack`` (the npm registry is reachable where CDNs are not), takes the files out of the tarballs (nothing
else is extracted) and writes them where ``build.py`` would. :data:`ASSETS` is ``build.py``'s download list,
translated:

* ``unpkg.com/<pkg>@<version>/<path>`` -> npm package ``<pkg>@<version>``, file ``<path>``
  (``unpkg.com/classnames@2.2.5`` serves the package's main file, ``index.js``);
* ``cdn.plot.ly/plotly-2.11.1.min.js`` -> ``plotly.js-dist-min@2.11.1``, ``plotly.min.js``;
* ``d3js.org/d3.v3.min.js`` -> ``d3@3.5.17`` (the last v3), ``d3.min.js``;
* ``d3js.org/d3-selection-multi.v1.js`` -> ``d3-selection-multi@1.0.1`` (the last v1), ``build/d3-selection-multi.js``;
* ``cdnjs.cloudflare.com/ajax/libs/mathjax/2.7.5/<path>`` -> ``mathjax@2.7.5``, ``<path>``.

``build.py`` saves the Glyphicons SVG font under a name that keeps the URL fragment
(``glyphicons-halflings-regular.svg#glyphicons_halflingsregular``); the browser asks for the name without it, so both
are written. A ``version.built`` file records visdom's version, so that visdom's own download step, if it is ever
run, finds the files in place and fetches nothing.

Command line::

    python -m rlzoo.visdom_assets [--force] [--check] [--static-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Sequence
from typing import NamedTuple

logger = logging.getLogger(__name__)


class Asset(NamedTuple):
    """One file of visdom's web page.

    :param package: npm package name.
    :param version: exact package version.
    :param source: path of the file inside the package.
    :param target: path under visdom's ``static/`` folder, as in ``build.py``.
    """

    package: str
    version: str
    source: str
    target: str


_BOOTSTRAP = ("bootstrap", "3.3.7")
_GLYPHICONS = "glyphicons-halflings-regular"
_MATHJAX_FILES = (
    "config/Safe.js",
    "config/TeX-AMS-MML_HTMLorMML.js",
    "extensions/Safe.js",
    "jax/output/SVG/fonts/TeX/fontdata.js",
    "jax/output/SVG/jax.js",
    "jax/output/SVG/fonts/TeX/Size1/Regular/Main.js",
    "jax/output/SVG/config.js",
    "MathJax.js",
)

#: visdom 0.2.4's ``build.py`` download list, as npm package files.
ASSETS: tuple[Asset, ...] = (
    Asset("jquery", "3.1.1", "dist/jquery.min.js", "js/jquery.min.js"),
    Asset(*_BOOTSTRAP, "dist/js/bootstrap.min.js", "js/bootstrap.min.js"),
    Asset("react", "16.2.0", "umd/react.production.min.js", "js/react-react.min.js"),
    Asset("react-dom", "16.2.0", "umd/react-dom.production.min.js", "js/react-dom.min.js"),
    Asset("react-modal", "3.1.10", "dist/react-modal.min.js", "js/react-modal.min.js"),
    Asset("plotly.js-dist-min", "2.11.1", "plotly.min.js", "js/plotly-plotly.min.js"),
    Asset("sjcl", "1.0.7", "sjcl.js", "js/sjcl.js"),
    Asset("layout-bin-packer", "1.4.0", "dist/layout-bin-packer.js.map", "js/layout-bin-packer.js.map"),
    Asset("d3", "3.5.17", "d3.min.js", "js/d3.v3.min.js"),
    Asset("d3-selection-multi", "1.0.1", "build/d3-selection-multi.js", "js/d3-selection-multi.v1.js"),
    Asset("save-svg-as-png", "1.4.17", "lib/saveSvgAsPng.js", "js/saveSvgAsPng.js"),
    Asset("react-resizable", "1.4.6", "css/styles.css", "css/react-resizable-styles.css"),
    Asset("react-grid-layout", "0.16.3", "css/styles.css", "css/react-grid-layout-styles.css"),
    Asset(*_BOOTSTRAP, "dist/css/bootstrap.min.css", "css/bootstrap.min.css"),
    Asset("classnames", "2.2.5", "index.js", "fonts/classnames"),
    Asset("layout-bin-packer", "1.4.0", "dist/layout-bin-packer.js", "js/layout_bin_packer.js"),
    *(
        Asset(*_BOOTSTRAP, f"dist/fonts/{_GLYPHICONS}.{ext}", f"fonts/{_GLYPHICONS}.{ext}")
        for ext in ("eot", "woff2", "woff", "ttf", "svg")
    ),
    Asset(*_BOOTSTRAP, f"dist/fonts/{_GLYPHICONS}.svg", f"fonts/{_GLYPHICONS}.svg#glyphicons_halflingsregular"),
    *(Asset("mathjax", "2.7.5", path, f"js/mathjax/2.7.5/{path}") for path in _MATHJAX_FILES),
)


def visdom_static_dir() -> str:
    """The ``static/`` folder of the installed visdom package (the folder its server serves)."""
    import visdom

    return os.path.join(os.path.dirname(os.path.abspath(visdom.__file__)), "static")


def missing_assets(static_dir: str | None = None) -> list[Asset]:
    """The assets not present (or empty) under ``static_dir`` (default: visdom's ``static/``)."""
    static_dir = static_dir or visdom_static_dir()
    return [
        asset
        for asset in ASSETS
        if not os.path.isfile(path := os.path.join(static_dir, asset.target)) or os.path.getsize(path) == 0
    ]


def npm_available(npm: str = "npm") -> bool:
    """Whether the ``npm`` command can be run."""
    return shutil.which(npm) is not None


def _npm_pack(specs: Sequence[str], destination: str, npm: str, timeout_s: float) -> dict[str, str]:
    """Download package tarballs with ``npm pack``; returns ``{"name@version": tarball path}``."""
    command = [npm, "pack", "--json", "--loglevel=error", "--pack-destination", destination, *specs]
    logger.info("running %s", " ".join(command))
    completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False, cwd=destination)
    if completed.returncode != 0:
        raise RuntimeError(f"`{' '.join(command)}` failed ({completed.returncode}): {completed.stderr.strip()[-2000:]}")
    packed = json.loads(completed.stdout)
    return {f"{entry['name']}@{entry['version']}": os.path.join(destination, entry["filename"]) for entry in packed}


def _read_member(tarball: str, source: str) -> bytes:
    """The bytes of ``source`` inside an npm tarball (whose files sit under one top folder, usually ``package/``)."""
    with tarfile.open(tarball, "r:gz") as archive:
        for member in archive.getmembers():
            if member.isfile() and member.name.split("/", 1)[-1] == source:
                handle = archive.extractfile(member)
                if handle is not None:
                    return handle.read()
    raise FileNotFoundError(f"{source} not found in {os.path.basename(tarball)}")


def _write_atomic(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    temporary = f"{path}.tmp{os.getpid()}"
    with open(temporary, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)


def install_assets(
    static_dir: str | None = None, force: bool = False, npm: str = "npm", timeout_s: float = 300.0
) -> list[str]:
    """Fetch the missing assets (all of them with ``force``) from the npm registry into ``static_dir``.

    :param static_dir: target folder (default: visdom's ``static/``).
    :param force: reinstall files that are already there.
    :param npm: the npm command.
    :param timeout_s: time limit of the ``npm pack`` call, in s.
    :return: paths of the files written (empty if nothing was missing).
    """
    static_dir = static_dir or visdom_static_dir()
    todo = list(ASSETS) if force else missing_assets(static_dir)
    if not todo:
        return []
    if not npm_available(npm):
        raise RuntimeError(f"`{npm}` is not installed: it is needed to fetch visdom's web assets from the npm registry")
    specs = sorted({f"{asset.package}@{asset.version}" for asset in todo})
    written = []
    with tempfile.TemporaryDirectory(prefix="visdom-assets-") as workdir:
        tarballs = _npm_pack(specs, workdir, npm, timeout_s)
        for asset in todo:
            data = _read_member(tarballs[f"{asset.package}@{asset.version}"], asset.source)
            path = os.path.join(static_dir, asset.target)
            _write_atomic(path, data)
            written.append(path)
    try:
        import visdom

        _write_atomic(os.path.join(static_dir, "version.built"), visdom.__version__.encode())
    except ImportError:  # installing into a folder for a visdom that is not importable here
        pass
    logger.info("installed %d visdom asset files into %s", len(written), static_dir)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point of ``python -m rlzoo.visdom_assets``; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m rlzoo.visdom_assets",
        description="Install visdom's web assets (scripts, styles, fonts) from the npm registry.",
    )
    parser.add_argument("--force", action="store_true", help="reinstall files that are already present")
    parser.add_argument("--check", action="store_true", help="only list the missing files; exit 1 if any")
    parser.add_argument("--static-dir", default=None, help="target folder (default: the visdom package's static/)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    static_dir = args.static_dir or visdom_static_dir()
    if args.check:
        missing = missing_assets(static_dir)
        for asset in missing:
            print(os.path.join(static_dir, asset.target))
        return 1 if missing else 0
    try:
        written = install_assets(static_dir, force=args.force)
    except (RuntimeError, FileNotFoundError, subprocess.TimeoutExpired) as exc:
        logger.error("%s", exc)
        return 1
    print(f"{len(written)} files written into {static_dir}" if written else f"all assets already in {static_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
