"""The fast door for the hot WebDAV requests (``door.py``)."""
