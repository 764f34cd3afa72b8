"""Prebuilt statements for the hot paths (authorise, resolve, register, audit append, and
the two trace reads: one trace by id, the latest page of traces).

Building a SQLAlchemy statement and its cache key costs ~120 µs; executing a prebuilt one
with bound parameters ~20 µs. Prompt fetch and version registration run a handful each,
so they use these. Everything else builds its queries inline.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table, and_, bindparam, insert, or_, select, update

from rippleops.store.models import (
    Asset,
    AuditEvent,
    Label,
    Membership,
    Meta,
    Project,
    Span,
    Token,
    Trace,
    User,
    Version,
    VersionInput,
)

A = cast(Table, Asset.__table__)
V = cast(Table, Version.__table__)
VI = cast(Table, VersionInput.__table__)
L = cast(Table, Label.__table__)
M = cast(Table, Membership.__table__)
P = cast(Table, Project.__table__)
AE = cast(Table, AuditEvent.__table__)
META = cast(Table, Meta.__table__)
T = cast(Table, Token.__table__)
U = cast(Table, User.__table__)
SP = cast(Table, Span.__table__)
TR = cast(Table, Trace.__table__)

# a token with its user; params: token_hash
TOKEN_USER = (
    select(T.c.prefix, T.c.revoked_at, T.c.expires_at, U.c.id, U.c.name, U.c.is_admin, U.c.is_active)
    .join(U, U.c.id == T.c.user_id)
    .where(T.c.token_hash == bindparam("token_hash"))
)

# project id and the caller's role in it (None when not a member); params: project, user_id
PROJECT_ROLE = (
    select(P.c.id, M.c.role)
    .outerjoin(M, (M.c.project_id == P.c.id) & (M.c.user_id == bindparam("user_id")))
    .where(P.c.name == bindparam("project"))
)

# an asset with its labels, one row per label; params: project_id, kind, name
ASSET_LABELS = (
    select(A.c.id, A.c.latest_version, A.c.description, L.c.name, L.c.version_number)
    .outerjoin(L, L.c.asset_id == A.c.id)
    .where(A.c.project_id == bindparam("project_id"), A.c.kind == bindparam("kind"), A.c.name == bindparam("name"))
    .order_by(L.c.name)
)

# params: asset_id, number
VERSION_ID = select(V.c.id, V.c.hash).where(V.c.asset_id == bindparam("asset_id"), V.c.number == bindparam("number"))

# params: asset_id, hash
VERSION_BY_HASH = select(V.c.number).where(V.c.asset_id == bindparam("asset_id"), V.c.hash == bindparam("hash"))

# the asset row, locked for the registering transaction; params: project_id, kind, name
ASSET_FOR_UPDATE = (
    select(A.c.id, A.c.latest_version, A.c.tags, A.c.description)
    .where(A.c.project_id == bindparam("project_id"), A.c.kind == bindparam("kind"), A.c.name == bindparam("name"))
    .with_for_update()
)

INSERT_ASSET = insert(A).returning(A.c.id)
INSERT_VERSION = insert(V).returning(V.c.id)
INSERT_INPUTS = insert(VI)

# params: b_id, b_latest, b_now
BUMP_ASSET = (
    update(A)
    .where(A.c.id == bindparam("b_id"))
    .values(latest_version=bindparam("b_latest"), updated_at=bindparam("b_now"))
)

# one version's inputs with their exact refs; params: version_id
VERSION_INPUTS = (
    select(VI.c.ref, VI.c.input_hash, VI.c.role, A.c.kind, A.c.name, V.c.number)
    .join(V, V.c.id == VI.c.input_version_id)
    .join(A, A.c.id == V.c.asset_id)
    .where(VI.c.version_id == bindparam("version_id"))
    .order_by(VI.c.id)
)

# params: key
META_FOR_UPDATE = select(META.c.value).where(META.c.key == bindparam("key")).with_for_update()
INSERT_META = insert(META)
# params: b_key, b_value
UPDATE_META = update(META).where(META.c.key == bindparam("b_key")).values(value=bindparam("b_value"))
INSERT_AUDIT = insert(AE)

# -- traces (issue 5) -------------------------------------------------------------------------

# what a trace summary is read from, in this order (services/traces.py maps the rows)
TRACE_COLUMNS = (
    TR.c.id,
    TR.c.trace_id,
    TR.c.name,
    TR.c.app,
    TR.c.app_version,
    TR.c.service_name,
    TR.c.status,
    TR.c.start_ns,
    TR.c.end_ns,
    TR.c.duration_ms,
    TR.c.span_count,
    TR.c.has_root,
    TR.c.prompt_tokens,
    TR.c.completion_tokens,
    TR.c.cost,
    TR.c.input_preview,
    TR.c.output_preview,
)
SPAN_COLUMNS = (
    SP.c.trace_id,
    SP.c.span_id,
    SP.c.parent_id,
    SP.c.name,
    SP.c.kind,
    SP.c.start_ns,
    SP.c.end_ns,
    SP.c.duration_ms,
    SP.c.status,
    SP.c.status_message,
    SP.c.service_name,
    SP.c.attributes,
    SP.c.events,
)

# one trace in one round trip: its summary (the first len(TRACE_COLUMNS) columns, repeated)
# joined to each of its spans; the unique indexes on (project, trace[, span]) serve it.
# params: project_id, trace_id
TRACE_WITH_SPANS = (
    select(*TRACE_COLUMNS, *SPAN_COLUMNS)
    .select_from(TR.outerjoin(SP, and_(SP.c.project_id == TR.c.project_id, SP.c.trace_id == TR.c.trace_id)))
    .where(TR.c.project_id == bindparam("project_id"), TR.c.trace_id == bindparam("trace_id"))
    .order_by(SP.c.start_ns, SP.c.id)
)

# the newest traces, newest first (ix_traces_project_start); params: project_id, limit
LATEST_TRACES = (
    select(*TRACE_COLUMNS)
    .where(TR.c.project_id == bindparam("project_id"))
    .order_by(TR.c.start_ns.desc(), TR.c.id.desc())
    .limit(bindparam("limit"))
)

# the next page of the newest traces, after the cursor (start_ns, id); params: project_id, c_ns, c_id, limit
LATEST_TRACES_AFTER = (
    select(*TRACE_COLUMNS)
    .where(
        TR.c.project_id == bindparam("project_id"),
        TR.c.start_ns <= bindparam("c_ns"),  # a range on the index; the next term breaks ties
        or_(TR.c.start_ns < bindparam("c_ns"), TR.c.id < bindparam("c_id")),
    )
    .order_by(TR.c.start_ns.desc(), TR.c.id.desc())
    .limit(bindparam("limit"))
)
