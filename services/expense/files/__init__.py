"""Receipts on S3, CSV/PDF exports and the Splitwise import: file work kept apart from the ledger rules."""
