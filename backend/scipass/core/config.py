"""Settings, read from the environment (prefix ``SCIPASS_``) and an optional ``.env`` file.

Secrets have a usable default only outside ``prod``: the dev defaults contain the word
``insecure`` so that :func:`Settings.production_problems` can recognise them, and the server
refuses to start in ``prod`` while any of them (or a missing or short key) is configured.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from scipass.core.security import KeyRing, KeyRingError, personal_seed

DEV_JWT_KEYS = "dev:insecure-dev-jwt-key-do-not-use-in-production"
DEV_CODE_KEYS = "dev:insecure-dev-code-signing-key-do-not-use-in-production"
# An Ed25519 seed anyone can read (sha256 of "insecure dev personal code key"), for dev only.
DEV_PERSONAL_CODE_KEYS = "dev:fmhzxQO4Liijg7fMlWKU/7yXryOeg1HWTklgFExe2rw="
MIN_SECRET_LENGTH = 32
# Idle keep-alive connections (SCIPASS_KEEPALIVE_SECONDS): every poll interval of our pages
# stays below the minimum (a test checks the kiosk page's).
KEEPALIVE_DEFAULT_SECONDS = 75
KEEPALIVE_MIN_SECONDS = 30
# The children's privacy contacts shipped as placeholders (the processing rules page names them):
# prod refuses them, as it refuses a development key, since a page naming nobody breaks
# 《儿童个人信息网络保护规定》 art. 8.
PLACEHOLDER_CHILD_PRIVACY_OFFICER = "平台运营方儿童个人信息保护负责人"
PLACEHOLDER_CHILD_PRIVACY_CONTACT = "privacy@scipass.example.cn"
PLACEHOLDER_CHILD_PRIVACY_COMPLAINTS = (
    "向儿童个人信息保护负责人投诉，15 个工作日内答复；对答复不满意的，"
    "可向所在地网信部门举报（12377.cn）"
)
# Published development secrets, refused in prod whatever key id they come under.
_DEV_SECRETS = frozenset(
    pair.partition(":")[2] for pair in (DEV_JWT_KEYS, DEV_CODE_KEYS, DEV_PERSONAL_CODE_KEYS)
)


class Environment(StrEnum):
    dev = "dev"
    test = "test"
    prod = "prod"


class LogFormat(StrEnum):
    json = "json"
    text = "text"


class WeChatMode(StrEnum):
    real = "real"
    fake = "fake"


class StorageKind(StrEnum):
    """Where evidence files and job results live (:mod:`scipass.core.storage`)."""

    local = "local"
    s3 = "s3"


class ConfigurationError(Exception):
    """The settings cannot run the service; ``str()`` is a one-line reason for the operator."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SCIPASS_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    env: Environment = Environment.dev
    database_url: str = "sqlite:///var/scipass.db"
    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=10, ge=0)
    sqlite_busy_timeout_ms: int = Field(default=5000, ge=0)
    # A PostgreSQL streaming replica of the primary (scipass.core.replica): exports and the
    # compliance dashboards read there, an export once the replica has replayed the primary's
    # position when it was asked for (waiting up to replica_wait_seconds). Refused with SQLite.
    replica_database_url: str | None = None
    replica_wait_seconds: float = Field(default=10.0, gt=0, le=600)

    # Signing keys as "kid:secret" pairs separated by commas; the first signs, all verify,
    # so a key is rotated by putting the new one first and removing the old one later.
    jwt_keys: SecretStr = SecretStr(DEV_JWT_KEYS)
    jwt_issuer: str = "scipass"
    jwt_audience: str = "scipass-api"
    code_signing_keys: SecretStr = SecretStr(DEV_CODE_KEYS)
    # Ed25519 keys for personal student codes: "kid:<base64 32-byte seed>" pairs, first signs.
    personal_code_keys: SecretStr = SecretStr(DEV_PERSONAL_CODE_KEYS)

    # Check-in codes. The link base is the prefix configured in the mini-program console
    # ("扫普通链接二维码打开小程序"); upper case keeps the QR in alphanumeric mode.
    code_link_base: str = "HTTPS://SCIPASS.EXAMPLE.CN/C/"
    # A volunteer shift's codes (the mini-program opens its volunteer page for this prefix).
    shift_link_base: str = "HTTPS://SCIPASS.EXAMPLE.CN/V/"
    rotating_step_seconds: int = Field(default=20, ge=10, le=120)
    rotating_margin_steps: int = Field(default=1, ge=0, le=3)
    personal_code_ttl_seconds: int = Field(default=300, ge=30, le=24 * 3600)
    scan_rate_per_minute: int = Field(default=20, ge=1)
    # How long a process keeps a code and its activity for scans (checkin/views.py ScanCache);
    # a revocation or an activity change drops them sooner.
    scan_cache_seconds: float = Field(default=5.0, gt=0)
    # Retention (README, "Children's data"): the ``purge-telemetry`` job erases each kind of
    # data once it is older than its period. Raw telemetry: the location, its accuracy and the
    # distance to the venue on scan events (the scan's result and times stay).
    telemetry_retention_days: int = Field(default=180, ge=1)
    # Client addresses (IP) in the audit log: 网络安全法 art. 21 asks for network logs to be
    # kept at least six months, and nothing needs them longer.
    client_address_retention_days: int = Field(default=180, ge=1)
    # Rate-limit counters, whose keys name client addresses and login names: no window is
    # longer than an hour, so a day keeps every counter that still counts.
    rate_limit_retention_hours: int = Field(default=24, ge=1)
    # Idempotency keys (who sent which request): far longer than any phone retries.
    idempotency_retention_days: int = Field(default=7, ge=1)
    # Named on the children's processing rules page (《儿童个人信息网络保护规定》 art. 8 and 9):
    # the person responsible for children's personal information, how to reach them, and where
    # to complain. The operator sets its own before going live (prod refuses the placeholders).
    child_privacy_officer: str = Field(default=PLACEHOLDER_CHILD_PRIVACY_OFFICER, min_length=1)
    child_privacy_contact: str = Field(default=PLACEHOLDER_CHILD_PRIVACY_CONTACT, min_length=1)
    child_privacy_complaints: str = Field(
        default=PLACEHOLDER_CHILD_PRIVACY_COMPLAINTS, min_length=1
    )
    # Deletion requests (README, "Children's data"): the date promised in the answer; the
    # ``carry-out-deletions`` job carries a request out at its next run, well before.
    deletion_period_days: int = Field(default=15, ge=1)
    # A WeChat user who never bound to a roster entry (and links no child) is deleted this long
    # after their last login: a school hands out binding codes at the start of a term, so a
    # term's worth of days lets a family that logged in early still bind.
    unbound_wechat_retention_days: int = Field(default=90, ge=1)
    # The staff console (/console): a session ends after this long without a request, and
    # after this long in any case (a working day and a half); its cookie is Secure outside dev
    # and test, where pages are served over plain HTTP on loopback.
    console_idle_minutes: int = Field(default=120, ge=5)
    console_session_hours: int = Field(default=12, ge=1)
    # Where `npm ci` put the browser libraries the console serves (package.json).
    console_vendor_dir: Path = Path("node_modules")
    wechat_checkin_page: str = "pages/checkin/index"
    # The page a volunteer shift's mini-program code opens (its scan goes to the volunteer
    # attendance endpoint, not to check-in).
    wechat_volunteer_page: str = "pages/volunteer/scan"
    wechat_env_version: str = "release"

    wechat_app_id: str = ""
    wechat_app_secret: SecretStr = SecretStr("")
    wechat_base_url: str = "https://api.weixin.qq.com"
    wechat_mode: WeChatMode = WeChatMode.fake
    wechat_timeout_seconds: float = Field(default=5.0, gt=0)

    upload_dir: Path = Path("var/uploads")
    # Evidence files and job results (README, "Storage with several hosts"): a local directory
    # (SCIPASS_UPLOAD_DIR, SCIPASS_JOB_RESULTS_DIR), or an S3-compatible bucket that every
    # host shares, under the prefixes ``<s3_prefix>uploads/`` and ``<s3_prefix>job-results/``.
    storage: StorageKind = StorageKind.local
    s3_endpoint_url: str = ""  # empty: AWS's own; MinIO, Ceph, a cloud's: its https URL
    s3_bucket: str = ""
    s3_region: str = "us-east-1"
    s3_access_key_id: str = ""  # empty (both): boto3's credential chain (an instance role)
    s3_secret_access_key: SecretStr = SecretStr("")
    s3_path_style: bool = False  # https://host/bucket/key (MinIO) instead of bucket.host
    s3_prefix: str = Field(default="", pattern=r"^([A-Za-z0-9._-]+/)*$")
    # A TrueType font with Chinese glyphs for PDF files (科技实践档案); unset: the Debian
    # fonts-droid-fallback or fonts-wqy-zenhei file, whichever is installed.
    pdf_font_path: Path | None = None
    evidence_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    # Request bodies: JSON (and anything but an upload), and a multipart upload as a whole.
    max_body_bytes: int = Field(default=1024 * 1024, ge=4096)
    max_upload_bytes: int = Field(default=11 * 1024 * 1024, ge=4096)
    # The working-day calendar for notice windows (公示): comma-separated ISO dates.
    holidays: Annotated[list[date], NoDecode] = []
    makeup_workdays: Annotated[list[date], NoDecode] = []
    # The worker (`scipass worker`) runs the scheduled jobs (archiving records after their
    # notice, ...) every interval and the queued jobs (bulk exports); `scipass serve` starts
    # one as a child process when jobs are enabled (its default). The API process runs none.
    jobs_enabled: bool = False
    jobs_interval_seconds: int = Field(default=300, ge=5)
    worker_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    # A running job's lease: renewed by its worker; a lost worker's job is taken up again
    # (or failed, after its attempts) once the lease has run out.
    job_lease_seconds: int = Field(default=60, ge=1)
    job_progress_seconds: float = Field(default=2.0, gt=0)  # progress written at most this often
    job_results_dir: Path = Path("var/job-results")
    job_result_ttl_hours: int = Field(default=24, ge=1)
    # Exports answered directly (streamed) up to this many rows; larger ones are jobs.
    export_sync_row_limit: int = Field(default=5000, ge=1)
    # Volunteer certificates (志愿服务记录证明): the publicity period within the venue before a
    # confirmed shift may be certified (民发〔2015〕149号: generally 7 days), and the link its
    # QR code opens (the public verification endpoint, the number appended).
    volunteer_publicity_days: int = Field(default=7, ge=0, le=60)
    certificate_verify_base: str = (
        "https://scipass.example.cn/api/v1/volunteer-certificates/verify/"
    )
    cors_origins: Annotated[list[str], NoDecode] = []
    docs_enabled: bool = True
    log_level: str = "INFO"
    # Log lines (README, "Metrics and logs"): one JSON object a line, or text; unset: json in
    # prod, text elsewhere.
    log_format: LogFormat | None = None
    # Prometheus metrics at /metrics on the app's port (README, "Metrics and logs"), off by
    # default. With a token, a scrape must send "Authorization: Bearer <token>"; prod refuses
    # metrics without one.
    metrics_enabled: bool = False
    metrics_token: SecretStr = SecretStr("")
    # Where `scipass serve` keeps the metrics of its processes (emptied at each start).
    metrics_dir: Path = Path("var/metrics")
    # How long `scipass serve` keeps an idle keep-alive connection open. Longer than any poll
    # of ours (the kiosk page asks every second, at most every 15 s) and than the idle time
    # of a proxy's upstream connections (nginx: 60 s), so a client never sends on a connection
    # the server is closing; uvicorn's own default is 5 s.
    keepalive_seconds: int = Field(default=KEEPALIVE_DEFAULT_SECONDS, ge=KEEPALIVE_MIN_SECONDS)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("holidays", "makeup_workdays", mode="before")
    @classmethod
    def _split_dates(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _storage_named(self) -> Settings:
        if self.storage is StorageKind.s3 and not self.s3_bucket:
            raise ValueError("SCIPASS_STORAGE=s3 needs SCIPASS_S3_BUCKET")
        return self

    @model_validator(mode="after")
    def _keys_parse(self) -> Settings:
        for name in ("jwt_keys", "code_signing_keys", "personal_code_keys"):
            try:
                ring = KeyRing.parse(getattr(self, name).get_secret_value())
            except KeyRingError as exc:
                raise ValueError(f"SCIPASS_{name.upper()}: {exc}") from exc
        for kid, seed in ring.keys.items():
            try:
                personal_seed(seed)
            except ValueError as exc:
                raise ValueError(f"SCIPASS_PERSONAL_CODE_KEYS key '{kid}': {exc}") from exc
        return self

    @model_validator(mode="after")
    def _replica_needs_postgresql(self) -> Settings:
        if self.replica_database_url and not (
            self.database_url.startswith("postgresql")
            and self.replica_database_url.startswith("postgresql")
        ):
            raise ValueError(
                "SCIPASS_REPLICA_DATABASE_URL: a read replica is a PostgreSQL streaming replica "
                "of a PostgreSQL primary (SCIPASS_DATABASE_URL); SQLite has none"
            )
        return self

    @property
    def jwt_keyring(self) -> KeyRing:
        return keyring_of(self.jwt_keys.get_secret_value())

    @property
    def code_keyring(self) -> KeyRing:
        return keyring_of(self.code_signing_keys.get_secret_value())

    @property
    def logs_as_json(self) -> bool:
        if self.log_format is None:
            return self.env is Environment.prod
        return self.log_format is LogFormat.json

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def production_problems(self) -> list[str]:
        """What makes these settings unfit for ``prod``; empty when they are fit."""
        problems: list[str] = []
        for name, ring in (
            ("JWT_KEYS", self.jwt_keyring),
            ("CODE_SIGNING_KEYS", self.code_keyring),
            ("PERSONAL_CODE_KEYS", KeyRing.parse(self.personal_code_keys.get_secret_value())),
        ):
            for kid, secret in ring.keys.items():
                if "insecure" in secret or kid == "dev" or secret in _DEV_SECRETS:
                    problems.append(f"SCIPASS_{name} holds the development key '{kid}'")
                elif len(secret) < MIN_SECRET_LENGTH:
                    problems.append(
                        f"SCIPASS_{name} key '{kid}' is shorter than {MIN_SECRET_LENGTH} characters"
                    )
        if self.wechat_mode is WeChatMode.fake:
            problems.append("SCIPASS_WECHAT_MODE=fake accepts made-up login codes")
        elif not self.wechat_app_id or not self.wechat_app_secret.get_secret_value():
            problems.append("SCIPASS_WECHAT_APP_ID and SCIPASS_WECHAT_APP_SECRET are required")
        if self.metrics_enabled and len(self.metrics_token.get_secret_value()) < MIN_SECRET_LENGTH:
            problems.append(
                "SCIPASS_METRICS_ENABLED needs SCIPASS_METRICS_TOKEN "
                f"(at least {MIN_SECRET_LENGTH} characters)"
            )
        for name, value, placeholder in (
            ("OFFICER", self.child_privacy_officer, PLACEHOLDER_CHILD_PRIVACY_OFFICER),
            ("CONTACT", self.child_privacy_contact, PLACEHOLDER_CHILD_PRIVACY_CONTACT),
            ("COMPLAINTS", self.child_privacy_complaints, PLACEHOLDER_CHILD_PRIVACY_COMPLAINTS),
        ):
            # The shipped text, or any address at the documentation domain (example.cn/.com).
            if value.strip() == placeholder or _names_example_domain(value):
                problems.append(
                    f"SCIPASS_CHILD_PRIVACY_{name} is a placeholder: name the operator's own"
                )
        return problems

    def check(self, *, workers: int = 1) -> None:
        """Raise :class:`ConfigurationError` when the service must not start with these settings
        (and ``workers`` server processes: ``scipass serve --workers``)."""
        if self.env is Environment.prod:
            problems = self.production_problems()
            if workers > 1 and self.is_sqlite:
                # Each process would keep its own copies and its own writer queue on one file:
                # several processes need the shared server (README, "Several instances").
                problems.append(
                    f"SQLite serves one process, not --workers {workers}: "
                    "set SCIPASS_DATABASE_URL to PostgreSQL"
                )
            if problems:
                raise ConfigurationError(
                    "refusing to start in prod: " + "; ".join(problems) + " (see README, Settings)"
                )


def _names_example_domain(value: str) -> bool:
    lowered = value.lower()
    return any(f"example.{tld}" in lowered for tld in ("cn", "com", "org", "net"))


@lru_cache(maxsize=16)
def keyring_of(text: str) -> KeyRing:
    """Parsed once per key text: every request verifies a token, every scan a code."""
    return KeyRing.parse(text)


def load_settings(**overrides: Any) -> Settings:
    """Build settings, turning a validation failure into a one-line :class:`ConfigurationError`."""
    from pydantic import ValidationError

    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "settings"
        raise ConfigurationError(f"invalid setting {where}: {first['msg']}") from None
    settings.check()
    return settings


@lru_cache
def get_settings() -> Settings:
    return load_settings()
