"""Loads the demo world into an empty database (see :mod:`scipass.demo.data`)."""

from __future__ import annotations

from sqlmodel import Session, select

from scipass.core.clock import SystemClock
from scipass.demo import data
from scipass.org.models import Region, School, Venue, encode_stages


def load(session: Session) -> dict[str, int] | None:
    """Insert the demo data; ``None`` when the database already holds regions."""
    if session.exec(select(Region.code).limit(1)).first() is not None:
        return None
    now = SystemClock().now()
    for code, name, level, parent_code in data.REGIONS:
        session.add(Region(code=code, name=name, level=level, parent_code=parent_code))
        session.flush()  # parents before children: the foreign key is checked per row
    for name, region_code, stages, area, address in data.SCHOOLS:
        session.add(
            School(
                name=name,
                region_code=region_code,
                stages=encode_stages(stages),
                area=area,
                address=address,
                created_at=now,
            )
        )
    for name, kind, region_code, address, longitude, latitude, phone in data.VENUES:
        session.add(
            Venue(
                name=name,
                kind=kind,
                region_code=region_code,
                address=address,
                longitude=longitude,
                latitude=latitude,
                phone=phone,
                created_at=now,
            )
        )
    session.flush()
    return {
        "regions": len(data.REGIONS),
        "schools": len(data.SCHOOLS),
        "venues": len(data.VENUES),
    }
