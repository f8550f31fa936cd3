"""davfiles: a multi-user WebDAV file server with quotas, built on WsgiDAV."""

__version__ = "0.1.0"
