"""Accounts, passwords, API tokens and credential verification."""
