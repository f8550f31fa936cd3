"""The public side of share links: the ``/s/`` pages and downloads, and public WebDAV."""
