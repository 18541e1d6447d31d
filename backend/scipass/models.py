"""Every table, imported in one place for Alembic's autogenerate and ``alembic check``."""

from scipass.org.models import Region, School, Venue

__all__ = ["Region", "School", "Venue"]
