"""HTTP for evidence files of records: upload (cleaned first) and download."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, UploadFile
from fastapi.responses import StreamingResponse

from scipass.consent.errors import ConsentRequired
from scipass.core.callers import (
    StudentFileReader,
)
from scipass.core.clock import ClockDep
from scipass.core.db import SessionDep
from scipass.core.deps import SettingsDep
from scipass.core.errors import problem_responses
from scipass.core.exports import attachment
from scipass.core.inputs import Id
from scipass.core.storage import InsufficientStorage, StorageUnavailable, read_chunks
from scipass.record import evidence as evidence_service
from scipass.record.errors import (
    EvidenceLimitReached,
    EvidenceNotFound,
    EvidencePdfActiveContent,
    EvidenceQuarantined,
    EvidenceTooComplex,
    EvidenceTooLarge,
    EvidenceTypeRejected,
    EvidenceUnreadable,
    RecordNotFound,
    RecordStateInvalid,
)
from scipass.record.router import evidence_read
from scipass.record.schemas import (
    EvidenceRead,
)
from scipass.roster.acting import ActingUploader

router = APIRouter(tags=["records"])


@router.post(
    "/records/{record_id}/evidence",
    name="record-evidence-upload",
    summary="上传证明材料",
    description="学生（本人记录）或本校教师在审核前上传。只接受 JPEG、PNG、WebP、PDF（按文件内容"
    "判断，不看扩展名），单个不超过 10 MB，每条记录最多 9 份；同一文件重复上传返回第一次的结果。"
    "未满 14 周岁须监护人同意“照片”用途。",
    status_code=201,
    responses=problem_responses(
        RecordNotFound,
        RecordStateInvalid,
        EvidenceTypeRejected,
        EvidenceUnreadable,
        EvidencePdfActiveContent,
        EvidenceTooLarge,
        EvidenceTooComplex,
        EvidenceLimitReached,
        ConsentRequired,
        InsufficientStorage,
        StorageUnavailable,
    ),
)
def upload_evidence(
    record_id: Id,
    caller: ActingUploader,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    file: Annotated[UploadFile, File(description="证明材料文件")],
) -> EvidenceRead:
    data = file.file.read(settings.evidence_max_bytes + 1)
    item = evidence_service.add(
        session,
        actor=caller,
        settings=settings,
        record_id=record_id,
        data=data,
        filename=file.filename,
        now=clock.now(),
    )
    return evidence_read(item)


@router.get(
    "/records/{record_id}/evidence/{evidence_id}",
    name="record-evidence-get",
    summary="下载证明材料",
    description="学生本人、家长、本校、辖区教育局可下载；场馆不能。工作人员下载写入审计日志。",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}, "application/pdf": {}}
        },
        **problem_responses(
            RecordNotFound, EvidenceNotFound, EvidenceQuarantined, StorageUnavailable
        ),
    },
)
def get_evidence(
    record_id: Id,
    evidence_id: Id,
    caller: StudentFileReader,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> StreamingResponse:
    item, stream = evidence_service.open_file(
        session,
        actor=caller,
        settings=settings,
        record_id=record_id,
        evidence_id=evidence_id,
        now=clock.now(),
    )
    extension = item.media_type.rsplit("/", 1)[-1]
    return StreamingResponse(
        read_chunks(stream),
        media_type=item.media_type,
        headers={
            **attachment(
                item.filename,
                f"evidence-{item.id}.{extension}",
                inline=item.media_type.startswith("image/"),
            ),
            "Content-Length": str(item.size),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, max-age=3600",
        },
    )
