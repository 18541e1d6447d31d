"""Check-in at venues and activities (签到/签退): codes, scans, visits and what staff read.

A scan becomes a visit (``check_in``: one per student, activity and day), an append-only scan
event (kept for refused scans too) and a pending record, in one transaction. How a student's
own scan flows, by module: ``fastpath`` (or ``router``) → ``self_scan.run_self_scan`` (the
rate counted once) → ``scipass.core.group_commit`` with the kind ``batch.SELF_SCANS`` →
``self_scan.self_scan`` (``views`` for the code, ``rules`` for the judgement) →
``visits.apply_scan`` (the visit, and its record through ``scipass.record.append``; on
PostgreSQL noted for the batch's one statement) → the answer after the commit. The README's
check-in section tells it step by step.

A guardian's scan for a linked child (``?student_id=``) takes the same path; ``family`` runs
one scan per child of a family scan (``POST /checkins/family``) through it.

Other modules: ``door`` (staff scans, class check-in, offline uploads), ``issuing`` (codes,
posters, the kiosk page's state, mini-program codes), ``cards`` (personal codes and cards),
``lists`` (attendees, scan events, exports), ``codes`` (signing and parsing code payloads),
``render`` (QR images and the poster), ``kiosk`` (the screen page), ``jobs``.
"""
