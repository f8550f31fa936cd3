"""The Nextcloud/ownCloud surface that their sync clients and apps ask for besides WebDAV:
``status.php``, the OCS capabilities and user endpoints, and Login Flow v2."""

from davfiles.nextcloud.middleware import NextcloudMiddleware

__all__ = ["NextcloudMiddleware"]
