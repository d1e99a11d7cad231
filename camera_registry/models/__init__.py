"""All models, imported here so the metadata is complete wherever it is used."""

from .admin_unit import AdminLevel, AdminUnit
from .audit import AuditEvent, AuditTrailIsAppendOnly
from .base import WGS84, Base
from .clip import ClipUpload, FootageClip, UploadState
from .commitment import CommitmentChannel, SharingCommitment, commitment_recorders
from .notification import (
    FINAL_MESSAGE_STATES,
    MESSAGE_TRANSITIONS,
    Channel,
    MessageStatus,
    MessageTransitionRefused,
    OutboxMessage,
    ProviderToken,
    SchedulerLease,
    message_transition,
)
from .owner import Owner, OwnerKind
from .owner_link import LinkAnswer, LinkPurpose, OwnerLink
from .recorder import Lens, LensKind, LensStatus, Recorder, RecorderStatus
from .request import (
    ASSIGNMENT_TRANSITIONS,
    AWAITING_ANSWER,
    FINAL_ASSIGNMENT_STATES,
    FINAL_REQUEST_STATES,
    LIVE_REQUEST_STATES,
    OPEN_ASSIGNMENT_STATES,
    OUTCOME_STATES,
    OWNER_ANSWERS,
    REQUEST_TRANSITIONS,
    UNANSWERED,
    Assignment,
    AssignmentLens,
    AssignmentStatus,
    FootageRequest,
    Handover,
    RequestOutcome,
    RequestStatus,
    allowed_actions,
    request_outcome,
)
from .site import Site
from .supervision_group import SupervisionGroup, supervision_group_communes
from .user import ApiToken, Role, User

__all__ = [
    "ASSIGNMENT_TRANSITIONS",
    "AWAITING_ANSWER",
    "FINAL_ASSIGNMENT_STATES",
    "FINAL_REQUEST_STATES",
    "LIVE_REQUEST_STATES",
    "OPEN_ASSIGNMENT_STATES",
    "OUTCOME_STATES",
    "OWNER_ANSWERS",
    "REQUEST_TRANSITIONS",
    "UNANSWERED",
    "Assignment",
    "AssignmentLens",
    "AssignmentStatus",
    "FootageRequest",
    "Handover",
    "RequestOutcome",
    "RequestStatus",
    "allowed_actions",
    "request_outcome",
    "Channel",
    "ClipUpload",
    "FootageClip",
    "UploadState",
    "LinkAnswer",
    "LinkPurpose",
    "MessageStatus",
    "MESSAGE_TRANSITIONS",
    "FINAL_MESSAGE_STATES",
    "MessageTransitionRefused",
    "message_transition",
    "OutboxMessage",
    "ProviderToken",
    "OwnerLink",
    "SchedulerLease",
    "AdminLevel",
    "AdminUnit",
    "ApiToken",
    "AuditEvent",
    "AuditTrailIsAppendOnly",
    "Base",
    "CommitmentChannel",
    "Lens",
    "LensKind",
    "LensStatus",
    "Owner",
    "OwnerKind",
    "Recorder",
    "RecorderStatus",
    "Role",
    "SharingCommitment",
    "Site",
    "SupervisionGroup",
    "User",
    "WGS84",
    "commitment_recorders",
    "supervision_group_communes",
]
