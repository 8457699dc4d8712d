"""Why a Dagster run of the build loop failed, in one line a person can act on.

A source whose documents were all filtered out fails its blocking ``non_empty`` check; a
source folder that is missing fails its raw step. Either is a result for that source, not a
reason to stop the others: the command line reports it with :func:`failure_reason` and carries on.
"""

from __future__ import annotations

import logging

import dagster as dg

from corpus.runner import StageReport


def failure_reason(result: dg.ExecuteInProcessResult, pipeline: str = "") -> str | None:
    """None for a successful run; else its failed blocking checks and step errors, without tracebacks.

    Steps are named by their stage (``raw``, not ``<pipeline>__raw``)."""
    if result.success:
        return None
    parts: list[str] = []
    for ev in result.get_asset_check_evaluations():
        if not ev.passed and ev.blocking:
            parts.append(f"{ev.asset_key.path[-1]}: check {ev.check_name} failed: {ev.description or 'no description'}")
    for ev in result.get_step_failure_events():
        error = ev.step_failure_data.error if ev.step_failure_data else None
        if error is None:
            parts.append(f"step {ev.step_key} failed")
            continue
        while error.cls_name in ("DagsterExecutionStepExecutionError", "DagsterUserCodeProcessError") and error.cause:
            error = error.cause
        if error.cls_name == "DagsterAssetCheckFailedError":
            continue  # named by its check evaluation above
        message = error.message.strip().splitlines()[0] if error.message.strip() else ""
        step = (ev.step_key or "").removeprefix(f"{pipeline}__" if pipeline else "")
        parts.append(f"{step}: {message if message.startswith(error.cls_name) else f'{error.cls_name}: {message}'}")
    return "; ".join(parts) or "the run failed (see its logs in the Dagster UI)"


class _NoStackTrace(logging.Filter):
    """Console lines of failed steps without their stack traces (the run's event log keeps them whole)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "\n\nStack Trace:" in record.msg:
            record.msg = record.msg.split("\n\nStack Trace:")[0].rstrip()
        return True


@dg.logger(
    {
        "log_level": dg.Field(str, is_required=False, default_value="INFO"),
        "name": dg.Field(str, is_required=False, default_value="dagster"),
    },
    description="Dagster's console logger, but a failed step is one message without its stack trace.",
)
def cli_console_logger(init_context: dg.InitLoggerContext) -> logging.Logger:
    log = dg.colored_console_logger.logger_fn(init_context)
    for handler in log.handlers:
        handler.addFilter(_NoStackTrace())
    return log


def empty_description(report: StageReport) -> str:
    """The non_empty check's text when nothing survived: how many came in and what removed them."""
    reasons = sorted(report.dropped.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    errors = sorted(report.quarantined.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    parts = [f"no document survived ({report.docs_in:,} in"]
    if reasons:
        parts.append("; dropped: " + ", ".join(f"{r} {n:,}" for r, n in reasons))
    if errors:
        parts.append("; quarantined: " + ", ".join(f"{r} {n:,}" for r, n in errors))
    parts.append(")")
    return "".join(parts) + _hint(report)


def _hint(report: StageReport) -> str:
    if not report.docs_in:
        return "; its input is empty"
    if report.dropped_total:
        return (
            "; loosen the thresholds of the stage's filters for this source, or limit the stage to other sources "
            "(stage.sources)"
        )
    return "; see the quarantine for what is wrong with the input"
