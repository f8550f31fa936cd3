"""davfiles: a multi-user WebDAV file server with quotas, built on WsgiDAV."""

from importlib.metadata import PackageNotFoundError, version

try:
    # One place for the version: pyproject.toml, read back from the installed metadata.
    __version__ = version("davfiles")
except PackageNotFoundError:
    __version__ = "0+unknown"
