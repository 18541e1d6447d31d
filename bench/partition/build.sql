-- Partitioned scan_event, participation_record and record_event, by school year, on generated
-- data (issue 22, the province plan). PostgreSQL only; outside the migration chain: it builds
-- them in a schema of its own ("part") next to the app's tables, which it copies the columns
-- of (LIKE public.x), so `scipass migrate` must have run first. bench/partition/run.py drives
-- it and sets the scale (bench.* settings); docs/scaling.md explains the keys.
--
-- The rule PostgreSQL sets: every unique key and every key a foreign key points to must
-- contain the partition key. So school_year is carried in them:
--   scan_event          PRIMARY KEY (id, school_year), UNIQUE (operator, nonce, school_year)
--                       (a nonce is unique per school year: the scan's own day decides it)
--   participation_record PRIMARY KEY (id, school_year),
--                       UNIQUE (student_id, source, source_ref, school_year)  -- one record per source
--                       UNIQUE (student_id, archive_seq, school_year)         -- per year; see below
--   record_event        FOREIGN KEY (record_id, school_year) -> participation_record
-- and the archive chain's global order moves to a small unpartitioned table, one row a pupil:
--   record_chain_head   PRIMARY KEY (student_id): (archive_seq, content_hash) of the head,
--                       moved on by a conditional UPDATE, so two archivers never take one seq.

DROP SCHEMA IF EXISTS part CASCADE;
CREATE SCHEMA part;

CREATE TABLE part.scan_event (
    LIKE public.scan_event INCLUDING DEFAULTS INCLUDING CONSTRAINTS,
    school_year smallint NOT NULL
) PARTITION BY LIST (school_year);

CREATE TABLE part.participation_record (
    LIKE public.participation_record INCLUDING DEFAULTS INCLUDING CONSTRAINTS
) PARTITION BY LIST (school_year);

CREATE TABLE part.record_event (
    LIKE public.record_event INCLUDING DEFAULTS INCLUDING CONSTRAINTS,
    school_year smallint NOT NULL
) PARTITION BY LIST (school_year);

CREATE TABLE part.record_chain_head (
    student_id bigint PRIMARY KEY,
    archive_seq integer NOT NULL,
    content_hash varchar(64) NOT NULL,
    school_year smallint NOT NULL  -- where the head record lives: the chain read starts there
);

DO $$
DECLARE
    y int;
BEGIN
    FOR y IN current_setting('bench.first_year')::int .. current_setting('bench.last_year')::int
    LOOP
        EXECUTE format('CREATE TABLE part.scan_event_%s PARTITION OF part.scan_event'
                       ' FOR VALUES IN (%s)', y, y);
        EXECUTE format('CREATE TABLE part.participation_record_%s PARTITION OF'
                       ' part.participation_record FOR VALUES IN (%s)', y, y);
        EXECUTE format('CREATE TABLE part.record_event_%s PARTITION OF part.record_event'
                       ' FOR VALUES IN (%s)', y, y);
    END LOOP;
END $$;

-- Keys and the app's indexes, each with the school year where a key needs it. Created on the
-- parents, so every partition gets its own (and a new year's partition too).
ALTER TABLE part.scan_event ADD PRIMARY KEY (id, school_year);
ALTER TABLE part.scan_event ADD UNIQUE (operator, nonce, school_year);
CREATE INDEX ON part.scan_event (activity_id, result);
CREATE INDEX ON part.scan_event (student_id);
CREATE INDEX ON part.scan_event (school_id, server_time);

ALTER TABLE part.participation_record ADD PRIMARY KEY (id, school_year);
ALTER TABLE part.participation_record
    ADD CONSTRAINT uq_record_source_key UNIQUE (student_id, source, source_ref, school_year);
ALTER TABLE part.participation_record
    ADD CONSTRAINT uq_record_archive_seq UNIQUE (student_id, archive_seq, school_year);
CREATE INDEX ON part.participation_record (school_id, status);
CREATE INDEX ON part.participation_record (school_id, school_year, semester);
CREATE INDEX ON part.participation_record (activity_id);

ALTER TABLE part.record_event ADD PRIMARY KEY (id, school_year);
CREATE INDEX ON part.record_event (record_id, id);
ALTER TABLE part.record_event ADD FOREIGN KEY (record_id, school_year)
    REFERENCES part.participation_record (id, school_year);

-- Generated data: bench.schools schools of bench.pupils_per_school pupils; each pupil has, in
-- each school year, bench.scans scan events and bench.records records (one record_event each);
-- the records of the years before the last are archived, chained per pupil across the years.
-- Times are spread over the school year (1 September to 31 August, Beijing time).
CREATE TEMP TABLE pupil AS
SELECT p AS student_id, 1 + (p - 1) / current_setting('bench.pupils_per_school')::int AS school_id
FROM generate_series(1, current_setting('bench.schools')::int
                        * current_setting('bench.pupils_per_school')::int) AS p;

INSERT INTO part.scan_event (id, activity_id, code_id, student_id, school_id, check_in_id,
    direction, source, operator, nonce, fingerprint, server_time, scan_time, forced, latitude,
    longitude, accuracy_m, distance_m, result, reason, school_year)
SELECT row_number() OVER (), 1 + (p.school_id * 37 + n) % 5000, NULL, p.student_id,
    p.school_id, NULL, CASE WHEN n % 2 = 0 THEN 'in' ELSE 'out' END, 'self',
    'wechat:' || (1000000 + p.student_id), md5(p.student_id || ':' || y || ':' || n),
    left(md5(n || ':' || p.student_id), 32), at, at - interval '2 seconds', false,
    27.83 + (p.school_id % 100) / 1000.0, 112.94, 15, 40,
    CASE WHEN n % 20 = 0 THEN 'refused' ELSE 'accepted' END,
    CASE WHEN n % 20 = 0 THEN 'code_expired' ELSE '' END, y
FROM pupil p
CROSS JOIN generate_series(current_setting('bench.first_year')::int,
                           current_setting('bench.last_year')::int) AS y
CROSS JOIN generate_series(1, current_setting('bench.scans')::int) AS n
CROSS JOIN LATERAL (SELECT make_timestamptz(y, 9, 1, 8, 0, 0, 'Asia/Shanghai')
    + ((p.student_id * 7919 + n * 104729) % 300) * interval '1 day'
    + (n % 9) * interval '1 hour' AS at) t;

INSERT INTO part.participation_record (id, student_id, school_id, source, source_ref,
    activity_id, organiser_venue_id, organiser_school_id, organiser_name, title, category,
    dimension, place, started_at, ended_at, school_year, semester, minutes, role, outcome,
    reflection, attester_name, attester_unit, attester_phone, status, status_reason,
    created_at, created_by, confirmed_at, student_confirmed_at, student_confirmed_as,
    student_confirmed_by, reflection_by, reviewed_at, reviewed_by, notice_id, archived_at,
    archive_seq, prev_hash, content_hash, replaces_id, updated_at)
SELECT row_number() OVER (ORDER BY p.student_id, y, n), p.student_id, p.school_id, 'check_in',
    (p.student_id * 100 + (y - 2000) * 10 + n)::text, 1 + (p.school_id * 31 + n) % 5000,
    1 + n % 120, NULL, '湘潭市科技馆', '走进科技馆：' || n || '号展区探究', 'venue_visit',
    'practice', '湘潭市岳塘区', at, at + interval '90 minutes', y,
    CASE WHEN extract(month FROM at AT TIME ZONE 'Asia/Shanghai') BETWEEN 2 AND 8
         THEN 'spring' ELSE 'autumn' END,
    90, 'participant', '', '我观察了磁悬浮列车模型，明白了同极相斥的原理。', '王老师',
    '湘潭市科技馆', '0731-5555****',
    CASE WHEN y < current_setting('bench.last_year')::int THEN 'archived' ELSE 'confirmed' END,
    '', at, 'account:17', at, at, 'student', 'wechat:' || (1000000 + p.student_id), 'student',
    at, 'account:17', NULL,
    CASE WHEN y < current_setting('bench.last_year')::int THEN at + interval '30 days' END,
    CASE WHEN y < current_setting('bench.last_year')::int
         THEN (y - current_setting('bench.first_year')::int)
              * current_setting('bench.records')::int + n END,
    CASE WHEN y < current_setting('bench.last_year')::int THEN md5('prev' || p.student_id || y || n) || md5(y || n::text) END,
    CASE WHEN y < current_setting('bench.last_year')::int THEN md5('this' || p.student_id || y || n) || md5(n || y::text) END,
    NULL, at
FROM pupil p
CROSS JOIN generate_series(current_setting('bench.first_year')::int,
                           current_setting('bench.last_year')::int) AS y
CROSS JOIN generate_series(1, current_setting('bench.records')::int) AS n
CROSS JOIN LATERAL (SELECT make_timestamptz(y, 9, 1, 14, 0, 0, 'Asia/Shanghai')
    + ((p.student_id * 131 + n * 6007) % 300) * interval '1 day' AS at) t;

INSERT INTO part.record_event (id, record_id, at, action, actor, actor_role, from_status,
    to_status, note, school_year)
SELECT id, id, created_at, 'created', 'account:17', 'venue_admin', NULL, 'pending', '',
    school_year
FROM part.participation_record;

INSERT INTO part.record_chain_head (student_id, archive_seq, content_hash, school_year)
SELECT DISTINCT ON (student_id) student_id, archive_seq, content_hash, school_year
FROM part.participation_record
WHERE archive_seq IS NOT NULL
ORDER BY student_id, archive_seq DESC;

ANALYZE part.scan_event;
ANALYZE part.participation_record;
ANALYZE part.record_event;
ANALYZE part.record_chain_head;

-- Samples of two unpartitioned tables, only to measure their bytes per row (heap + indexes):
-- a visit per pupil and school year, and an audit entry of the commonest kind (a record
-- reviewed) per record. LIKE ... INCLUDING INDEXES copies the app's indexes, not its keys.
CREATE TABLE part.check_in_sample (LIKE public.check_in INCLUDING DEFAULTS INCLUDING INDEXES);
INSERT INTO part.check_in_sample (id, activity_id, student_id, school_id, day, source, code_id,
    entered_at, exited_at, closed_by, minutes, record_id, operator, created_at, updated_at)
SELECT id, activity_id, student_id, school_id, (started_at AT TIME ZONE 'Asia/Shanghai')::date,
    'self', 1 + id % 9000, started_at, ended_at, 'scan', 90, id, created_by, started_at, ended_at
FROM part.participation_record WHERE id % 10 = 0;

CREATE TABLE part.audit_log_sample (LIKE public.audit_log INCLUDING DEFAULTS INCLUDING INDEXES);
INSERT INTO part.audit_log_sample (id, at, action, actor, actor_role, object_type, object_id,
    school_id, region_code, client_ip, detail)
SELECT id, reviewed_at, 'record_reviewed', 'account:17', 'school_admin', 'participation_record',
    id::text, school_id, '430302', '10.12.0.' || (id % 250),
    '{"from_status": "confirmed", "to_status": "reviewed", "student_id": ' || student_id || '}'
FROM part.participation_record WHERE id % 10 = 0;
ANALYZE part.check_in_sample;
ANALYZE part.audit_log_sample;
