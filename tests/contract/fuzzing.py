"""Schema fuzzing harness: schemathesis cases sent in-process to the Django app.

How it works (docs/contract-testing.md):

1. The OpenAPI schema is read from `/api/schema/` and *sharpened* with the ids of a real
   world (tests/contract/world.py): a path parameter such as `show_id` and a body field
   such as `product` become an `enum` of existing objects. Positive cases then reach the
   code behind the lookups; negative cases (anything outside the enum: other integers,
   strings, nulls...) test the lookups and validation themselves.
2. Each case is sent through Django's WSGI handler in the test's own transaction, inside
   a savepoint that is rolled back afterwards: every case sees the same world, and
   `transaction.on_commit` callbacks (events, Celery sends) run as after a real commit.
3. Each answer is checked: never a 5xx; every 4xx has the SPEC error shape and left every
   table as it was (a fingerprint of the rows); the answer conforms to the schema (status
   code, content type, body) through schemathesis' own checks.

Failures are collected, not raised at once, so one run reports every operation's problems.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import os
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from django.apps import apps
from django.core import signals
from django.core.cache import cache
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections, connection, transaction
from django.test import Client, TestCase
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.errors import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from core.models import IdempotencyRecord
from tests.contract.world import World

#: Examples per operation and generation mode; raise it locally to hunt (FUZZ_EXAMPLES=200).
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "4"))
#: Only operations whose label contains this text ("POST /api/v1/shows/{show_id}/buy/").
ONLY = os.environ.get("FUZZ_ONLY", "")

#: Operations not fuzzed with the run's token: logout revokes it (tested in the contract test).
SKIPPED = {"POST /api/v1/auth/logout/"}

#: Tables a refused request may still write, by design: the Idempotency-Key store keeps
#: the first non-5xx answer, 4xx included (SPEC Conventions).
UNTRACKED_MODELS = {IdempotencyRecord}

SCHEMA_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@dataclass
class Finding:
    operation: str
    mode: str
    problem: str
    status: int
    request: str
    response: str
    trace: str = ""

    def __str__(self) -> str:
        text = (
            f"{self.operation} [{self.mode}] {self.problem}: {self.status}\n"
            f"  {self.request}\n  -> {self.response[:600]}"
        )
        if self.trace:
            text += "\n" + self.trace[-2500:]
        return text


@dataclass
class FuzzReport:
    findings: list[Finding] = field(default_factory=list)
    statuses: dict[str, dict[int, int]] = field(default_factory=dict)

    def count(self, label: str, status: int) -> None:
        by_status = self.statuses.setdefault(label, {})
        by_status[status] = by_status.get(status, 0) + 1

    def calls(self) -> int:
        return sum(sum(v.values()) for v in self.statuses.values())

    def summary(self) -> str:
        lines = [f"{label}: {dict(sorted(v.items()))}" for label, v in self.statuses.items()]
        return "\n".join(lines)


# --- the schema, sharpened with the world's ids -----------------------------------------


def _enum(values: list[Any], kind: str = "integer") -> dict[str, Any]:
    return {"type": kind, "enum": values}


def path_values(world: World) -> dict[str, list[int]]:
    """Real objects for each path parameter (whoever calls; others' objects answer 404)."""
    return {
        "shop_id": [world.shop.pk],
        "product_id": [world.simple.pk, world.sized.pk, world.sold_out.pk],
        "show_id": [world.live.pk, world.scheduled.pk, world.ended.pk],
        "hold_id": [world.hold.pk],
        "order_id": [world.pending_order.pk, world.paid_order.pk],
        "shipment_id": [world.shipment.pk],
        "payment_method_id": [world.payment_method.pk],
        "address_id": [world.address.pk],
    }


def body_values(world: World) -> dict[str, dict[str, Any]]:
    """Schemas for request body fields that name an existing object, by field name."""
    products = [world.simple.pk, world.sized.pk, world.sold_out.pk]
    variants = sorted(v.pk for p in (world.simple, world.sized) for v in p.variants.all())
    usernames = [u.username for u in (world.buyer, world.moderator, world.staff, world.other_buyer)]
    return {
        "shop": _enum([world.shop.pk]),
        "product": _enum(products),
        "variant": _enum(variants),
        "user": _enum([world.buyer.pk, world.moderator.pk, world.seller.pk]),
        "message": _enum([world.message.pk]),
        "username": _enum(usernames, "string"),
        "payment_method": _enum(
            ["sandbox_ok", "sandbox_declined", str(world.payment_method.pk)], "string"
        ),
        "token": _enum(["sandbox_ok", "sandbox_declined", "sandbox_error"], "string"),
    }


def sharpen(raw: dict[str, Any], world: World) -> dict[str, Any]:
    """A copy of the schema whose id-like parameters and fields name real objects."""
    schema = copy.deepcopy(raw)
    by_param = path_values(world)
    by_field = body_values(world)
    for item in schema["paths"].values():
        for operation in item.values():
            for param in operation.get("parameters", []):
                if param.get("in") == "path" and param["name"] in by_param:
                    param["schema"] = _enum(by_param[param["name"]])
                elif param.get("in") == "query" and param["name"] in by_field:
                    param["schema"] = by_field[param["name"]]  # e.g. DELETE ...?username=
    products = by_field["product"]["enum"]
    for name, component in schema["components"]["schemas"].items():
        if not name.endswith("Request") or name.startswith("Register"):
            continue  # registering picks new names; only requests naming objects change
        props = component.get("properties", {})
        for prop, prop_schema in list(props.items()):
            if prop == "lineup":
                prop_schema["items"] = _enum(products)
            elif prop == "address" and "oneOf" in prop_schema:
                prop_schema["oneOf"][0] = _enum([world.address.pk])
            elif prop in by_field:
                nullable = prop_schema.get("nullable", False)
                props[prop] = {**by_field[prop], **({"nullable": True} if nullable else {})}
        if name == "TokenApiInputRequest":
            props["password"] = _enum(["pw-Secret-123"], "string")
    return schema


def load_schema(world: World) -> Any:
    """The app's schema (JSON), sharpened, bound to an in-process WSGI handler."""
    response = Client().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200, response.content[:300]
    schema = schemathesis.openapi.from_dict(sharpen(json.loads(response.content), world))
    schema.app = WSGIHandler()
    return schema


# --- world state --------------------------------------------------------------------------


def tracked_tables() -> list[str]:
    """Tables whose rows a refused request must leave unchanged."""
    tables = []
    for label in ("auth", "authtoken", "catalog", "streams", "orders", "core"):
        for model in apps.get_app_config(label).get_models():
            if model in UNTRACKED_MODELS or model._meta.proxy:
                continue
            tables.append(model._meta.db_table)
    return sorted(set(tables))


def fingerprint(tables: list[str]) -> dict[str, str]:
    """A digest of every row of each table, in one round trip."""
    qn = connection.ops.quote_name  # table names come from our models, quoted
    digest = "SELECT %s, md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM "
    parts = [f"{digest}{qn(table)} t" for table in tables]
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), tables)
        return dict(cursor.fetchall())


@contextmanager
def in_process_requests() -> Iterator[list[str]]:
    """Serve requests in this thread and transaction; yields the tracebacks of 500s.

    Django closes "old" connections at each request's start and end; inside the test's
    transaction that would drop it, so (as django.test.Client does) those hooks are off.
    """
    tracebacks: list[str] = []

    def on_exception(sender: Any, request: Any = None, **kwargs: Any) -> None:
        tracebacks.append(traceback.format_exc())

    request_log = logging.getLogger("django.request")
    level = request_log.level
    request_log.setLevel(logging.CRITICAL)  # thousands of expected 4xx warnings
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    signals.got_request_exception.connect(on_exception)
    try:
        yield tracebacks
    finally:
        signals.got_request_exception.disconnect(on_exception)
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
        request_log.setLevel(level)


# --- checks -------------------------------------------------------------------------------


def error_shape_problem(response: Any) -> str | None:
    """Why a 4xx body is not the SPEC error shape, or None."""
    try:
        body = response.json()
    except ValueError:
        return "4xx body is not JSON"
    if not isinstance(body, dict) or set(body) != {"error"}:
        return "4xx body is not {'error': {...}}"
    err = body["error"]
    if not isinstance(err, dict) or set(err) != {"code", "message", "details"}:
        return "error object lacks exactly code, message, details"
    if not (isinstance(err["code"], str) and err["code"].replace("_", "").isalnum()):
        return "error code is not snake_case text"
    if err["code"] != err["code"].lower():
        return "error code is not snake_case text"
    if not (isinstance(err["message"], str) and err["message"].strip()):
        return "error message is empty"
    if not isinstance(err["details"], dict):
        return "error details is not an object"
    return None


# --- the run ------------------------------------------------------------------------------


def fuzz(*, world: World, role: str, examples: int = EXAMPLES) -> FuzzReport:
    """Fuzz every operation as `role` (a World user), positive and negative data."""
    report = FuzzReport()
    schema = load_schema(world)
    headers = {"Authorization": f"Token {world.tokens[role]}"}
    tables = tracked_tables()
    baseline = fingerprint(tables)
    with in_process_requests() as tracebacks:
        for result in schema.get_all_operations():
            operation = result.ok()
            if operation.label in SKIPPED or (ONLY and ONLY not in operation.label):
                continue
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                _fuzz_operation(
                    operation=operation,
                    mode=mode,
                    headers=headers,
                    examples=examples,
                    report=report,
                    tables=tables,
                    baseline=baseline,
                    tracebacks=tracebacks,
                )
    return report


def _fuzz_operation(
    *,
    operation: Any,
    mode: GenerationMode,
    headers: dict[str, str],
    examples: int,
    report: FuzzReport,
    tables: list[str],
    baseline: dict[str, str],
    tracebacks: list[str],
) -> None:
    label = operation.label
    seen_problems: set[str] = set()

    def record(problem: str, case: Any, response: Any, trace: str = "") -> None:
        if problem in seen_problems:  # one example of each problem per operation and mode
            return
        seen_problems.add(problem)
        report.findings.append(
            Finding(
                operation=label,
                mode=mode.value,
                problem=problem,
                status=response.status_code,
                request=case.as_curl_command(headers=headers),
                response=response.text,
                trace=trace,
            )
        )

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        cache.clear()  # throttles and chat rate limits start afresh for every case
        tracebacks.clear()
        with transaction.atomic():
            with TestCase.captureOnCommitCallbacks(execute=True):
                response = case.call(headers=headers)
            report.count(label, response.status_code)
            if response.status_code >= 500:
                trace = tracebacks[-1] if tracebacks else ""
                record(f"server error ({_last_line(trace)})", case, response, trace)
            elif response.status_code >= 400:
                problem = error_shape_problem(response)
                if problem:
                    record(problem, case, response)
                changed = _changed_tables(baseline, fingerprint(tables))
                if changed:
                    record(f"4xx changed rows in {', '.join(changed)}", case, response)
            try:
                case.validate_response(response, checks=SCHEMA_CHECKS, headers=headers)
            except FailureGroup as group:
                for failure in group.exceptions:
                    record(f"schema: {failure.title}", case, response, str(failure))
            transaction.set_rollback(True)

    # Unsatisfiable: nothing to negate (no parameters, no body); the positive run covered it.
    with contextlib.suppress(Unsatisfiable):
        run()


def _changed_tables(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(t for t in before if before[t] != after.get(t))


def _last_line(trace: str) -> str:
    lines = [line for line in trace.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else "no traceback"
