"""The REST dialects: the documented upload APIs, served over the same store as WebDAV."""
