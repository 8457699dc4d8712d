"""The ``<pipeline>_new_raw_data`` sensor: new or changed source files -> runs of the affected ``raw`` partitions.

Each tick lists every source's location (a local folder or an S3 prefix, through the
storage resource's pyarrow filesystem) with the same file selection the readers use, and
reduces it to a *fingerprint*: a digest of the sorted (path, size, mtime) of its files.
The cursor keeps the last fingerprint per source; a source whose fingerprint differs gets
one run of its ``raw`` partition. Everything downstream follows by declarative automation
(``platform_assets/automation.py``), so the sensor never needs to know the stages.

The ``raw`` asset records the fingerprint of what it read as materialization metadata
(``source_fingerprint``). A source without a cursor entry (the sensor was just turned on,
or the source was just added) is compared with that record, so turning the sensor on
after ``make demo`` requests nothing, while a source changed since its last materialization
is requested at once.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dagster as dg
import pyarrow.fs as pafs

from corpus.readers import list_source_files
from corpus.spec import PipelineSpec, SourceSpec
from resources.storage import CorpusStorage

FINGERPRINT_METADATA_KEY = "source_fingerprint"
CURSOR_VERSION = 1
TRIGGER_TAG = "corpus/trigger"


@dataclass(frozen=True)
class SourceFingerprint:
    """What a source's files looked like: a digest of (path, size, mtime) plus readable totals."""

    digest: str
    files: int
    bytes: int
    latest_mtime_ns: int | None

    def summary(self) -> str:
        return f"{self.files} files, {self.bytes:,} bytes, fingerprint {self.digest[:12]}"


def fingerprint_source(source: SourceSpec, fs: pafs.FileSystem, base_path: str) -> SourceFingerprint:
    """Fingerprint the files the readers would read for ``source`` under ``base_path``.

    The file selection is :func:`corpus.readers.list_source_files` (glob by format, hidden
    and temporary files skipped), so a writer's half-written ``.tmp`` file never triggers a
    run. Sizes and mtimes come from one recursive listing (one paginated request on S3,
    not one request per file). Raises FileNotFoundError naming the source when the
    location does not exist.
    """
    names = list_source_files(source, fs, base_path)
    base = base_path.rstrip("/") or base_path
    top = fs.get_file_info(base)
    if top.type == pafs.FileType.File:
        infos = {posixpath.basename(base): top}
    else:
        listing = fs.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True))
        infos = {posixpath.relpath(i.path, base): i for i in listing if i.type == pafs.FileType.File}
    h = hashlib.sha256()
    total = 0
    latest: int | None = None
    for name in names:
        info = infos.get(name)
        size = int(info.size or 0) if info is not None else -1
        mtime = int(info.mtime_ns or 0) if info is not None else 0
        h.update(f"{name}\0{size}\0{mtime}\n".encode())
        total += max(size, 0)
        latest = mtime if latest is None else max(latest, mtime)
    return SourceFingerprint(digest=h.hexdigest(), files=len(names), bytes=total, latest_mtime_ns=latest)


def parse_cursor(cursor: str | None) -> dict[str, str]:
    """{source: fingerprint digest} from the sensor cursor; an unreadable cursor counts as empty.

    An empty cursor is safe: sources then compare with their last ``raw`` materialization.
    """
    if not cursor:
        return {}
    try:
        doc = json.loads(cursor)
    except json.JSONDecodeError:
        return {}
    if not isinstance(doc, dict) or doc.get("v") != CURSOR_VERSION or not isinstance(doc.get("sources"), dict):
        return {}
    return {str(k): str(v) for k, v in doc["sources"].items()}


def format_cursor(state: dict[str, str]) -> str:
    return json.dumps({"v": CURSOR_VERSION, "sources": dict(sorted(state.items()))}, separators=(",", ":"))


@dataclass
class NewDataTick:
    """One evaluation of the sensor: what to request, the new cursor, and what could not be read."""

    requests: list[dg.RunRequest]
    cursor: str
    problems: list[str]
    unchanged: list[str]

    def skip_message(self) -> str:
        parts = [f"no new or changed files in {', '.join(self.unchanged) or 'any source'}"]
        if self.problems:
            parts.append("could not check: " + "; ".join(self.problems))
        return "; ".join(parts)


def new_data_tick(
    spec: PipelineSpec,
    cursor: str | None,
    locate: Callable[[str], tuple[pafs.FileSystem, str]],
    last_materialized: Callable[[str], str | None],
    raw_key: dg.AssetKey,
) -> NewDataTick:
    """Compare every source's fingerprint with the cursor (or its last ``raw`` materialization).

    ``locate`` maps a spec location to (filesystem, path); ``last_materialized`` returns
    the fingerprint recorded by the latest ``raw`` materialization of a source, or None.
    A source that cannot be listed keeps its cursor entry and is reported, never fatal:
    one unreachable bucket must not stop the other sources from being watched.
    """
    state = {
        k: v for k, v in parse_cursor(cursor).items() if k in spec.source_names
    }  # sources removed from the spec are forgotten
    requests: list[dg.RunRequest] = []
    problems: list[str] = []
    unchanged: list[str] = []
    for src in spec.sources:
        try:
            fp = fingerprint_source(src, *locate(src.location))
        except (FileNotFoundError, OSError) as exc:
            problems.append(f"{src.name} ({src.location}): {str(exc).splitlines()[0]}")
            continue
        if fp.files == 0:
            problems.append(
                f"{src.name} ({src.location}): no {src.format} files match; add files or fix sources[].glob"
            )
            continue
        previous = state.get(src.name) or last_materialized(src.name)
        state[src.name] = fp.digest
        if previous == fp.digest:
            unchanged.append(src.name)
            continue
        requests.append(
            dg.RunRequest(
                run_key=f"{src.name}:{fp.digest[:16]}",
                partition_key=src.name,
                asset_selection=[raw_key],
                tags={
                    TRIGGER_TAG: "new_raw_data",
                    "corpus/source": src.name,
                    "corpus/source_fingerprint": fp.digest[:16],
                    "corpus/source_files": str(fp.files),
                },
            )
        )
    return NewDataTick(requests=requests, cursor=format_cursor(state), problems=problems, unchanged=unchanged)


def last_fingerprint(instance: dg.DagsterInstance, raw_key: dg.AssetKey, source: str) -> str | None:
    """The ``source_fingerprint`` recorded by the latest materialization of ``raw[source]``."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=raw_key, asset_partitions=[source]), limit=1
    ).records
    if not records or records[0].asset_materialization is None:
        return None
    value = records[0].asset_materialization.metadata.get(FINGERPRINT_METADATA_KEY)
    return str(value.value) if value is not None else None


def build_new_data_sensor(
    spec: PipelineSpec, raw_key: dg.AssetKey, minimum_interval_seconds: int
) -> dg.SensorDefinition:
    """The pipeline's new-data sensor (stopped until someone turns it on)."""

    @dg.sensor(
        name=f"{spec.pipeline}_new_raw_data",
        target=dg.AssetSelection.assets(raw_key),
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.STOPPED,
        owners=list(spec.owners) or None,
        description=f"Watches the {len(spec.sources)} source locations of {spec.pipeline!r} for new or changed files "
        f"(fingerprint of path, size and mtime per source) and materializes the affected {raw_key.to_user_string()} "
        f"partitions; downstream stages follow through the {spec.pipeline}_automation sensor.",
    )
    def new_raw_data(context: dg.SensorEvaluationContext, storage: CorpusStorage) -> Any:
        tick = new_data_tick(
            spec,
            context.cursor,
            storage.source_location,
            lambda source: last_fingerprint(context.instance, raw_key, source),
            raw_key,
        )
        for problem in tick.problems:
            context.log.warning(problem)
        for req in tick.requests:
            context.log.info(f"{req.partition_key}: new or changed files ({req.tags['corpus/source_files']} files)")
        if not tick.requests:
            return dg.SensorResult(skip_reason=dg.SkipReason(tick.skip_message()), cursor=tick.cursor)
        return dg.SensorResult(run_requests=tick.requests, cursor=tick.cursor)

    return new_raw_data
