"""The PostgreSQL substrate (psycopg 3, async). Imported only when a ``postgresql://`` URL is
opened, so nobody else ever imports the driver."""

from .opener import open_postgres_host

__all__ = ["open_postgres_host"]
