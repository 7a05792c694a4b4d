"""threadcast: realtime for ticket threads, native to PostgreSQL."""

__version__ = "0.1.0"


class ThreadcastError(Exception):
    """Base of every error threadcast raises on purpose."""
