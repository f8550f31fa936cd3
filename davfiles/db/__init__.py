"""Metadata database: SQLAlchemy models and engine set-up."""
