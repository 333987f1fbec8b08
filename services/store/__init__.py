"""Persistence: tables, sessions, migrations, leases and the outbox."""
