"""Assets and their versions: registering content (hash-deduplicated), resolving references
(the one place), reading records, listing with filters and pages, and editable metadata.
"""

from __future__ import annotations

import base64
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, selectinload

from rippleops.domain.access import Action, Principal
from rippleops.domain.hashing import canonical_json, version_hash
from rippleops.domain.records import AssetRecord, InputRecord, Page, VersionRecord
from rippleops.domain.refs import LATEST, Ref, parse_ref, validate_kind, validate_name
from rippleops.errors import InvalidError, NotFoundError, PayloadTooLargeError
from rippleops.services import audit
from rippleops.services.access import AccessService, ProjectRef
from rippleops.services.cycles import check_cycle
from rippleops.settings import Settings
from rippleops.store import queries
from rippleops.store.db import Database
from rippleops.store.models import Asset, Label, Version
from rippleops.store.models.base import utcnow

MAX_PAGE = 500


@dataclass(frozen=True, slots=True)
class InputSpec:
    """An input to record on a new version: a reference as written and the edge's role."""

    ref: str
    role: str = "input"
    pin: str | None = None  # an exact reference to record instead of what ``ref`` resolves to now


def find_asset(s: Session, project_id: int, kind: str, name: str, *, lock: bool = False) -> Asset | None:
    q = select(Asset).where(Asset.project_id == project_id, Asset.kind == kind, Asset.name == name)
    if lock:
        q = q.with_for_update()
    return s.execute(q).scalar_one_or_none()


def require_asset(s: Session, project: ProjectRef, kind: str, name: str) -> Asset:
    asset = find_asset(s, project.id, kind, name)
    if asset is None:
        raise _missing_asset(project, kind, name)
    return asset


def _missing_asset(project: ProjectRef, kind: str, name: str) -> NotFoundError:
    return NotFoundError(
        f"{kind}/{name} does not exist in project {project.name!r}; see what does with `ripple asset list --kind {kind}`"
    )


@dataclass(frozen=True, slots=True)
class Resolved:
    """A reference resolved to one stored version, with the asset's labels at that moment."""

    version_id: int
    number: int
    hash: str
    asset_id: int
    kind: str
    name: str
    latest: int
    description: str
    label_map: tuple[tuple[str, int], ...]  # (label, version number), sorted by label

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.name}:{self.number}"

    @property
    def labels(self) -> list[str]:
        """Labels on this version, ``latest`` last when it is the newest."""
        out = [lb for lb, n in self.label_map if n == self.number]
        return [*out, LATEST] if self.number == self.latest else out


def resolve(s: Session, project: ProjectRef, ref: Ref) -> Resolved:
    """Resolve a parsed reference to its stored version: the one place references resolve."""
    rows = s.execute(queries.ASSET_LABELS, {"project_id": project.id, "kind": ref.kind, "name": ref.name}).all()
    if not rows:
        raise _missing_asset(project, ref.kind, ref.name)
    asset_id, latest, description = rows[0][0], rows[0][1], rows[0][2]
    label_map = tuple((r[3], r[4]) for r in rows if r[3] is not None)
    if ref.version is not None:
        number = ref.version
        if number > latest:
            raise NotFoundError(f"{ref.asset} has no version {number}; the latest is {latest}")
    elif ref.label is not None:
        found = next((n for lb, n in label_map if lb == ref.label), None)
        if found is None:
            have = ", ".join(lb for lb, _ in label_map) or "none yet"
            raise NotFoundError(
                f"{ref.asset} has no label {ref.label!r}; labels: {have} "
                f"(set one with `ripple {ref.kind} label {ref.name} {ref.label} N`)"
            )
        number = found
    else:
        number = latest
    vid, vhash = s.execute(queries.VERSION_ID, {"asset_id": asset_id, "number": number}).one()
    return Resolved(vid, number, vhash, asset_id, ref.kind, ref.name, latest, description, label_map)


class VersionCache:
    """Versions are immutable, so their records are cached by id; labels are added per read."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._items: OrderedDict[int, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, version_id: int) -> Any | None:
        with self._lock:
            item = self._items.get(version_id)
            if item is not None:
                self._items.move_to_end(version_id)
            return item

    def put(self, version_id: int, item: Any) -> None:
        with self._lock:
            self._items[version_id] = item
            if len(self._items) > self.size:
                self._items.popitem(last=False)


def _load_record(s: Session, version_id: int, project: str) -> VersionRecord:
    version = s.get(Version, version_id)
    assert version is not None
    inputs = s.execute(queries.VERSION_INPUTS, {"version_id": version_id}).all()
    asset = version.asset
    return VersionRecord(
        ref=f"{asset.kind}/{asset.name}:{version.number}",
        kind=asset.kind,
        name=asset.name,
        version=version.number,
        hash=version.hash,
        inputs=[InputRecord(ref=r, resolved=f"{k}/{n}:{num}", hash=h, role=role) for r, h, role, k, n, num in inputs],
        recipe=version.recipe,
        message=version.message,
        tags=list(version.tags or []),
        created_at=version.created_at,
        created_by=version.created_by,
        project=project,
        content=version.content,
    )


def version_record(s: Session, cache: VersionCache | None, r: Resolved, project: str, **extra: Any) -> VersionRecord:
    """The record of a resolved version: immutable fields from the cache, labels from ``r``.

    Write transactions pass ``cache=None``: a version id seen before commit may be reused
    by SQLite if the transaction rolls back, so only committed versions are cached."""
    base = cache.get(r.version_id) if cache else None
    if base is None or base.project != project:
        base = _load_record(s, r.version_id, project)
        if cache is not None:
            cache.put(r.version_id, base)
    return base.model_copy(update={"labels": r.labels, "description": r.description, **extra})


def asset_record(asset: Asset, project: str) -> AssetRecord:
    return AssetRecord(
        ref=f"{asset.kind}/{asset.name}",
        kind=asset.kind,
        name=asset.name,
        project=project,
        description=asset.description,
        tags=list(asset.tags or []),
        latest_version=asset.latest_version,
        labels={lb.name: lb.version_number for lb in sorted(asset.labels, key=lambda lb: lb.name)},
        created_at=asset.created_at,
        created_by=asset.created_by,
        updated_at=asset.updated_at,
    )


class AssetService:
    """Versions of any kind of asset. Kind services (prompts ...) build on it."""

    def __init__(self, db: Database, access: AccessService, settings: Settings) -> None:
        self.db = db
        self.access = access
        self.settings = settings
        self.cache = VersionCache()

    def register(
        self,
        principal: Principal,
        project: str,
        kind: str,
        name: str,
        content: dict[str, Any],
        *,
        inputs: Sequence[InputSpec] = (),
        recipe: dict[str, Any] | None = None,
        message: str = "",
        tags: Sequence[str] = (),
        derived: Sequence[str] = (),
    ) -> VersionRecord:
        """Register ``content`` as the next version of ``kind/name``, or return the version
        that already holds identical content (``created=False``, with a note).

        ``derived`` names content keys left out of the hash (reports computed from the rest)."""
        validate_kind(kind)
        validate_name(name, f"{kind} name")
        tags = _clean_tags(tags)
        size = len(canonical_json(content).encode())
        if size > self.settings.max_payload_bytes:
            raise PayloadTooLargeError(
                f"{kind}/{name} content is {size} bytes; the limit is {self.settings.max_payload_bytes} "
                "(RIPPLE_MAX_PAYLOAD_BYTES); keep large data in a dataset, not in the version"
            )
        digest = version_hash(content, recipe, tuple(derived))
        parsed_inputs = [(parse_ref(i.pin or i.ref), i) for i in inputs]

        def work(s: Session) -> VersionRecord:
            # Core statements, not ORM units of work: this is the hot write path.
            proj = self.access.authorize(s, principal, project, Action.WRITE)
            now = utcnow()
            key = {"project_id": proj.id, "kind": kind, "name": name}
            row = s.execute(queries.ASSET_FOR_UPDATE, key).first()
            if row is None:
                asset_id = s.execute(
                    queries.INSERT_ASSET,
                    {
                        **key,
                        "description": "",
                        "tags": [],
                        "latest_version": 0,
                        "created_at": now,
                        "created_by": principal.name,
                        "updated_at": now,
                    },
                ).scalar_one()
                latest, description = 0, ""
                asset_tags: list[str] = []
            else:
                asset_id, latest, asset_tags, description = row
            existing = s.execute(queries.VERSION_BY_HASH, {"asset_id": asset_id, "hash": digest}).scalar_one_or_none()
            if existing is not None:
                note = _identical_note(kind, name, existing, latest)
                return self._record_of(s, proj, kind, name, created=False, note=note, number=existing)
            resolved = [(resolve(s, proj, ref), spec) for ref, spec in parsed_inputs]
            if row is not None and resolved:  # a new asset cannot be referred to yet: no cycle possible
                check_cycle(
                    s, asset_id, f"{kind}/{name}", [(inp.asset_id, parse_ref(spec.ref)) for inp, spec in resolved]
                )
            number = latest + 1
            s.execute(queries.BUMP_ASSET, {"b_id": asset_id, "b_latest": number, "b_now": now})
            if tags and not set(tags) <= set(asset_tags or []):
                s.execute(
                    update(Asset).where(Asset.id == asset_id).values(tags=sorted(set(asset_tags or []) | set(tags)))
                )
            version_id = s.execute(
                queries.INSERT_VERSION,
                {
                    "asset_id": asset_id,
                    "number": number,
                    "hash": digest,
                    "content": content,
                    "recipe": recipe,
                    "message": message,
                    "tags": tags,
                    "created_at": now,
                    "created_by": principal.name,
                },
            ).scalar_one()
            if resolved:
                s.execute(
                    queries.INSERT_INPUTS,
                    [
                        {
                            "version_id": version_id,
                            "input_version_id": inp.version_id,
                            "ref": spec.ref,
                            "input_hash": inp.hash,
                            "role": spec.role,
                        }
                        for inp, spec in resolved
                    ],
                )
            audit.record(
                s,
                principal.name,
                "version.create",
                f"{kind}/{name}:{number}",
                project=project,
                after={"hash": digest, "inputs": [spec.ref for _, spec in resolved]},
            )
            self.settings.fault("version.before_commit")
            return VersionRecord(
                ref=f"{kind}/{name}:{number}",
                kind=kind,
                name=name,
                version=number,
                hash=digest,
                labels=[LATEST],
                inputs=[
                    InputRecord(ref=spec.ref, resolved=inp.ref, hash=inp.hash, role=spec.role) for inp, spec in resolved
                ],
                recipe=recipe,
                message=message,
                tags=tags,
                created_at=now,
                created_by=principal.name,
                project=project,
                description=description,
                content=content,
                created=True,
            )

        return self.db.write(work)

    def _record_of(
        self, s: Session, proj: ProjectRef, kind: str, name: str, *, number: int, cached: bool = False, **extra: Any
    ) -> VersionRecord:
        r = resolve(s, proj, Ref(kind, name, version=number))
        return version_record(s, self.cache if cached else None, r, proj.name, **extra)

    def find_identical(
        self,
        principal: Principal,
        project: str,
        kind: str,
        name: str,
        content: dict[str, Any],
        *,
        recipe: dict[str, Any] | None = None,
        derived: Sequence[str] = (),
    ) -> VersionRecord | None:
        """The version that :meth:`register` would return for this content without
        registering anything (``created=False``, with the same note), or ``None``: lets a
        kind skip expensive derived work (reports) for content it already has."""
        digest = version_hash(content, recipe, tuple(derived))
        with self.db.reading() as s:
            proj = self.access.authorize(s, principal, project, Action.READ)
            asset = find_asset(s, proj.id, kind, name)
            if asset is None:
                return None
            number = s.execute(queries.VERSION_BY_HASH, {"asset_id": asset.id, "hash": digest}).scalar_one_or_none()
            if number is None:
                return None
            return self._record_of(
                s, proj, kind, name, number=number, cached=True, created=False,
                note=_identical_note(kind, name, number, asset.latest_version),
            )  # fmt: skip

    def get(self, principal: Principal, project: str, ref: str | Ref, kind: str | None = None) -> VersionRecord:
        parsed = ref if isinstance(ref, Ref) else parse_ref(ref, kind)
        with self.db.reading() as s:
            proj = self.access.authorize(s, principal, project, Action.READ)
            return version_record(s, self.cache, resolve(s, proj, parsed), project)

    def versions(self, principal: Principal, project: str, asset: str, kind: str | None = None) -> list[VersionRecord]:
        ref = parse_ref(asset, kind)
        with self.db.reading() as s:
            proj = self.access.authorize(s, principal, project, Action.READ)
            a = require_asset(s, proj, ref.kind, ref.name)
            numbers = s.execute(
                select(Version.number).where(Version.asset_id == a.id).order_by(Version.number)
            ).scalars()
            return [self._record_of(s, proj, ref.kind, ref.name, number=n, cached=True) for n in list(numbers)]

    def show(self, principal: Principal, project: str, asset: str, kind: str | None = None) -> AssetRecord:
        ref = parse_ref(asset, kind)
        if ref.label or ref.version:
            raise InvalidError(
                f"{asset!r} names a version; `asset show` takes kind/name (use `ripple {ref.kind} show` for a version)"
            )
        with self.db.reading() as s:
            proj = self.access.authorize(s, principal, project, Action.READ)
            return asset_record(require_asset(s, proj, ref.kind, ref.name), project)

    def list(
        self,
        principal: Principal,
        project: str,
        *,
        kind: str | None = None,
        tag: str | None = None,
        label: str | None = None,
        search: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page:
        """Assets ordered by kind and name; pass ``next_cursor`` back to get the next page."""
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidError(f"limit must be between 1 and {MAX_PAGE}")
        with self.db.reading() as s:
            proj = self.access.authorize(s, principal, project, Action.READ)
            q = select(Asset).where(Asset.project_id == proj.id)
            if kind:
                q = q.where(Asset.kind == validate_kind(kind))
            if label:
                q = q.where(Asset.id.in_(select(Label.asset_id).where(Label.name == label)))
            if search:
                q = q.where(Asset.name.contains(search, autoescape=True))
            total_q = q
            if cursor:
                k, _, n = _decode_cursor(cursor).partition("/")
                q = q.where(or_(Asset.kind > k, (Asset.kind == k) & (Asset.name > n)))
            rows = list(s.execute(q.order_by(Asset.kind, Asset.name).options(selectinload(Asset.labels))).scalars())
            if tag:  # JSON containment differs per dialect; tags lists are short, filter here
                rows = [a for a in rows if tag in (a.tags or [])]
            page = rows[:limit]
            total = len(rows) if tag else s.execute(select(func.count()).select_from(total_q.subquery())).scalar_one()
            nxt = _encode_cursor(f"{page[-1].kind}/{page[-1].name}") if len(rows) > limit else None
            return Page(
                items=[asset_record(a, project) for a in page], next_cursor=nxt, total=None if cursor else total
            )

    def update(
        self,
        principal: Principal,
        project: str,
        asset: str,
        *,
        kind: str | None = None,
        description: str | None = None,
        add_tags: Sequence[str] = (),
        remove_tags: Sequence[str] = (),
    ) -> AssetRecord:
        """Edit metadata (description, tags); never changes a version or its hash."""
        ref = parse_ref(asset, kind)
        add, remove = _clean_tags(add_tags), _clean_tags(remove_tags)

        def work(s: Session) -> AssetRecord:
            proj = self.access.authorize(s, principal, project, Action.WRITE)
            a = require_asset(s, proj, ref.kind, ref.name)
            before = {"description": a.description, "tags": list(a.tags or [])}
            if description is not None:
                a.description = description
            a.tags = sorted((set(a.tags or []) | set(add)) - set(remove))
            a.updated_at = utcnow()
            after = {"description": a.description, "tags": a.tags}
            if after != before:
                audit.record(s, principal.name, "asset.update", ref.asset, project=project, before=before, after=after)
            return asset_record(a, project)

        return self.db.write(work)


def _identical_note(kind: str, name: str, existing: int, latest: int) -> str:
    if existing == latest:
        return f"identical to the latest version {existing}; nothing registered"
    return (
        f"identical to version {existing} (latest is {latest}); nothing registered — "
        f"to roll back, move a label: `ripple {kind} label {name} LABEL {existing}`"
    )


def _clean_tags(tags: Sequence[str]) -> list[str]:
    if isinstance(tags, str):
        raise InvalidError("tags must be a list of strings")
    out = []
    for t in tags:
        if not isinstance(t, str) or not t.strip() or len(t) > 100:
            raise InvalidError(f"tag {t!r} is not valid: tags are non-empty strings up to 100 characters")
        out.append(t.strip())
    return sorted(set(out))


def _encode_cursor(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> str:
    try:
        raw = cursor.replace("-", "+").replace("_", "/")
        value = base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        value = ""
    if "/" not in value:
        raise InvalidError("the page cursor is not valid; pass the next_cursor of the previous page")
    return value
