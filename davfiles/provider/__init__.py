"""The WsgiDAV side: translate DAV calls into store calls, nothing more."""
