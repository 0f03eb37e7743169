"""The OpenAPI document says everything a client can get: written once, as a spec processor.

- every error response has the one error schema (henkham/web/errors.py), and every 4xx the API can give is
  listed where it can happen: 400 and 422 everywhere (malformed or unstorable input), 401/403/429 where a key
  is needed, 404 where something is looked up, 409 where state changes, 413/415 where a body is sent, 429 where
  a rate limit applies (with ``Retry-After``);
- path variables carry their limits (henkham/web/paths.py), the headers the API reads are documented with
  theirs.
"""

from __future__ import annotations

import re
from typing import Any

from apiflask import APIFlask

from .paths import ACCOUNT_HEADER, HEADER_STRINGS, IDEMPOTENCY_HEADER, ZALO_TOKEN_HEADER, path_schema

ERROR_REF = {"$ref": "#/components/schemas/Error"}
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "message_vi", "details"],
            "properties": {
                "code": {"type": "string", "description": "stable, for programs (e.g. not_found, rate_limited)"},
                "message": {"type": "string", "description": "English, for developers"},
                "message_vi": {"type": "string", "description": "polite Vietnamese, shown to patients as it is"},
                "details": {"type": "object", "additionalProperties": True},
            },
        }
    },
}
DESCRIPTIONS = {
    "400": "Malformed request (not JSON, not UTF-8, nested too deeply, NUL or lone surrogates; a missing account)",
    "401": "Missing or unknown API key",
    "403": "The key lacks the scope, or the resource belongs to another hospital",
    "404": "Not found (or not visible to this key and account)",
    "409": "Refused by a booking rule or the current state",
    "413": "Body larger than 64 KB",
    "415": "The body is not JSON",
    "422": "Invalid input; details name the fields",
    "429": "Too many requests; retry after Retry-After seconds",
}
# Routes that take a file as it is (henkham/web/bodies.py FILE_BODIES): their body and their own size limit.
_GATEWAY_FORM = {
    "type": "object",
    "required": ["fileHSBase64"],
    "additionalProperties": False,
    "properties": {"fileHSBase64": {"type": "string", "description": "The whole GIAMDINHHS file, base64"}},
}
FILE_REQUEST_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("/api/v1/emr/imports", "post"): {
        "required": True,
        "description": "A HIS export (XML 130/4750 GIAMDINHHS file), a FHIR R4 Bundle, or the gateway's form",
        "content": {
            "application/xml": {"schema": {"type": "string", "format": "binary"}},
            "application/fhir+json": {"schema": {"type": "object", "description": "A FHIR R4 Bundle"}},
            "application/json": {"schema": {"oneOf": [_GATEWAY_FORM, {"type": "object"}]}},
        },
    },
}
FILE_TOO_LARGE = "Body larger than HENKHAM_EMR_IMPORT_MAX_BYTES (default 20 MB)"
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer", "minimum": 1}}}
_VARIABLE = re.compile(r"<(?:([^<:>]+):)?([^<>]+)>")


def _statuses(method: str, operation: dict, has_path_args: bool, limited: bool) -> list[str]:
    statuses = ["400", "422"]
    if operation.get("security"):
        statuses += ["401", "403", "429"]
    if limited:
        statuses.append("429")
    if has_path_args or method == "post":
        statuses.append("404")
    if method == "post":
        statuses += ["409", "413", "415"]
    return sorted(set(statuses))


def install(app: APIFlask, limited_endpoints: set[str]) -> None:
    converters: dict[str, dict[str, str]] = {}  # OpenAPI path -> variable -> converter
    limited_paths: set[tuple[str, str]] = set()
    for rule in app.url_map.iter_rules():
        path = _VARIABLE.sub(lambda m: "{" + m.group(2) + "}", rule.rule)
        converters[path] = {name: conv or "default" for conv, name in _VARIABLE.findall(rule.rule)}
        if rule.endpoint in limited_endpoints:
            for method in rule.methods or ():
                limited_paths.add((path, method.lower()))

    @app.spec_processor
    def _document_errors_and_limits(spec: dict) -> dict:
        spec.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
        for path, operations in spec.get("paths", {}).items():
            variables = converters.get(path, {})
            for method, operation in operations.items():
                if not isinstance(operation, dict) or "responses" not in operation:
                    continue
                for parameter in operation.get("parameters", []):
                    if parameter.get("in") == "path":
                        schema = path_schema(parameter["name"], variables.get(parameter["name"], "default"))
                        if schema:
                            parameter["schema"] = schema
                        parameter["required"] = True
                if operation.get("security"):
                    _add_header(operation, ZALO_TOKEN_HEADER, "The end user's Zalo access token (Mini App keys)")
                    _add_header(
                        operation, ACCOUNT_HEADER, "The end user, named by a server-to-server key trusted for it"
                    )
                if method == "post" and path == "/api/v1/appointments":
                    _add_header(operation, IDEMPOTENCY_HEADER, "A repeated request returns the first booking")
                responses = operation["responses"]
                if (path, method) in FILE_REQUEST_BODIES:
                    operation["requestBody"] = FILE_REQUEST_BODIES[(path, method)]
                    responses.setdefault("413", {"description": FILE_TOO_LARGE})
                for status in _statuses(method, operation, bool(variables), (path, method) in limited_paths):
                    responses.setdefault(status, {"description": DESCRIPTIONS[status]})
                for status, response in responses.items():
                    if status.startswith(("4", "5")):
                        response["content"] = {"application/json": {"schema": ERROR_REF}}
                        response.setdefault("description", DESCRIPTIONS.get(status, "Error"))
                        if status == "429":
                            response["headers"] = RETRY_AFTER
        return spec


def _add_header(operation: dict, name: str, description: str) -> None:
    parameters = operation.setdefault("parameters", [])
    if any(p.get("in") == "header" and p.get("name") == name for p in parameters):
        return
    schema = {"type": "string", "maxLength": HEADER_STRINGS[name]}
    if name == IDEMPOTENCY_HEADER:
        schema["minLength"] = 1
    parameters.append({"in": "header", "name": name, "required": False, "description": description, "schema": schema})
