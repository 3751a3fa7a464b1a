"""Check a real HTTP answer against the OpenAPI document: the status is documented for the
route, the Content-Type is the documented one, required headers are there, and a JSON body
validates against the documented schema. For any test of the control API to call."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from elektromail.http import openapi
from elektromail.http.openapi_schemas import JSON

DOC_URI = "urn:elektromail:openapi"
DOCUMENT = openapi.document()


@functools.cache
def _registry() -> Registry:
    resource = Resource(contents=DOCUMENT, specification=DRAFT202012)
    return Registry().with_resource(DOC_URI, resource)


def validator(pointer: str) -> Draft202012Validator:
    """A validator for the schema at `pointer` in the document (e.g. `/components/schemas/X`)."""
    return Draft202012Validator(
        {"$ref": f"{DOC_URI}#{pointer}"},
        registry=_registry(),
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = _registry().resolver().lookup(DOC_URI + node["$ref"]).contents
    return node


def template_for(path: str) -> str:
    """The document's path template that a concrete path (no query) matches."""
    for template in DOCUMENT["paths"]:
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path):
            return template
    raise AssertionError(f"{path} matches no path of the OpenAPI document")


def check_response(
    method: str, path: str, status: int, headers: Mapping[str, str], body: bytes
) -> Any:
    """Assert that the answer is one the document describes; returns the decoded JSON body
    (or None for another media type)."""
    template = template_for(path.split("?", 1)[0])
    operation = DOCUMENT["paths"][template].get(method.lower())
    assert operation is not None, f"{method} {template} is not in the OpenAPI document"
    responses = operation["responses"]
    assert str(status) in responses, (
        f"{method} {path}: status {status} is not documented (documented: {sorted(responses)})"
    )
    response = _resolve(responses[str(status)])
    lower = {name.lower(): value for name, value in headers.items()}
    for name, header in response.get("headers", {}).items():
        if header.get("required"):
            assert name.lower() in lower, f"{method} {path} {status}: no {name} header"
    content = response.get("content")
    if not content:
        return None
    media_type = lower.get("content-type", "").split(";")[0].strip()
    kind = media_type.split("/")[0]
    assert media_type in content or f"{kind}/*" in content or "*/*" in content, (
        f"{method} {path} {status}: Content-Type {media_type!r}, documented: {sorted(content)}"
    )
    if media_type != JSON or JSON not in content:  # a JSON attachment is only bytes here
        return None
    value = json.loads(body)
    pointer = _schema_pointer(template, method.lower(), str(status))
    errors = sorted(validator(pointer).iter_errors(value), key=lambda e: list(e.path))
    assert not errors, f"{method} {path} {status}: " + "; ".join(
        f"{'/'.join(map(str, e.path)) or '(body)'}: {e.message}" for e in errors[:5]
    )
    return value


def _schema_pointer(template: str, method: str, status: str) -> str:
    """JSON pointer of the JSON schema for one response, following a `$ref`'d response."""
    escaped = template.replace("~", "~0").replace("/", "~1")
    node = DOCUMENT["paths"][template][method]["responses"][status]
    if "$ref" in node:
        return node["$ref"].removeprefix("#") + "/content/application~1json/schema"
    return f"/paths/{escaped}/{method}/responses/{status}/content/application~1json/schema"
