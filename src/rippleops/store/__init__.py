"""Persistence: database, migrations, blobs."""
