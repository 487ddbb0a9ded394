"""The PostgreSQL substrate (psycopg 3, async). Imported only when a ``postgresql://`` URL is
opened, so nobody else ever imports the driver."""

from .opener import SCHEME, PostgresSubstrate, open_postgres_substrate

__all__ = ["SCHEME", "PostgresSubstrate", "open_postgres_substrate"]
