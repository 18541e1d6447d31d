"""Who sees a pupil's full name: one policy for every list, detail and export.

In full:

* the pupil (their own records, visits, reservations);
* their guardians: whatever a guardian is shown is about their own children (the services
  narrow every guardian's read to the children linked to them);
* staff of the pupil's own school;
* the platform admin;
* everyone a public notice (公示) of the pupil's school is shown to, on that notice: showing
  the school community who is credited with what is the notice's purpose (DESIGN.md; only
  name, class, activity, date and minutes are on it).

Masked (张*明, enough to match a face at a venue's door): venues, other schools' staff,
other pupils, and bureaus, which supervise schools and need counts, not pupils' names
(PIPL art. 28 and 31: collect and show the least).
"""

from __future__ import annotations

from scipass.core.auth import SCHOOL_ROLES, Principal, Role


def mask_name(name: str) -> str:
    """张小明 → 张*明, 王芳 → 王*: enough for a venue to match a face at the door."""
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def sees_full_name(
    viewer: Principal, *, school_id: int | None, student_id: int | None, on_notice: bool = False
) -> bool:
    """Whether ``viewer`` sees in full the name of the pupil ``student_id`` of ``school_id``."""
    if viewer.role is Role.platform_admin or viewer.role is Role.guardian:
        return True
    if viewer.role is Role.student and student_id is not None and viewer.student_id == student_id:
        return True
    if on_notice and viewer.role in (Role.student, *SCHOOL_ROLES):
        return school_id is not None and viewer.school_id == school_id
    return viewer.role in SCHOOL_ROLES and school_id is not None and viewer.school_id == school_id


def shown_name(
    viewer: Principal,
    name: str,
    *,
    school_id: int | None,
    student_id: int | None,
    on_notice: bool = False,
) -> str:
    """The pupil's name as ``viewer`` may see it (:func:`sees_full_name`)."""
    if sees_full_name(viewer, school_id=school_id, student_id=student_id, on_notice=on_notice):
        return name
    return mask_name(name)
