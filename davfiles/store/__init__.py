"""The store facade: front doors import from here only."""

from davfiles.store.fsck import Finding, FsckReport, Repair
from davfiles.store.models import FileInfo, Owner, QuotaFigures, StorageSplit
from davfiles.store.nodes import PAGE_ORDERS, is_storable_id, page_key, parse_id
from davfiles.store.paths import ROOT, UserPath, check_name, check_username, parse_user_path
from davfiles.store.store import Store
from davfiles.store.uploads import Upload, UploadOptions

__all__ = [
    "PAGE_ORDERS",
    "ROOT",
    "FileInfo",
    "Finding",
    "FsckReport",
    "Owner",
    "QuotaFigures",
    "StorageSplit",
    "Repair",
    "Store",
    "Upload",
    "UploadOptions",
    "UserPath",
    "check_name",
    "check_username",
    "is_storable_id",
    "parse_id",
    "page_key",
    "parse_user_path",
]
