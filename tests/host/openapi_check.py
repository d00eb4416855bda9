"""Checks real responses against docs/openapi.yaml (as the server serves it).

``Api`` sends every request through ``check``: the operation must be documented, the status
must be one of its documented responses, the content type one of that response's, the body
must validate against its schema (JSON Schema 2020-12, as OpenAPI 3.1 uses), and the
documented required headers must be there. Any mismatch fails the test at once.
"""
import json

import yaml
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

DOC_URI = "urn:media-network:openapi"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _escape(token):
    return token.replace("~", "~0").replace("/", "~1")


class Checker:
    def __init__(self, doc):
        self.doc = doc
        self.registry = Registry().with_resource(
            DOC_URI, Resource.from_contents({"$id": DOC_URI, **doc}, default_specification=DRAFT202012))
        self.exercised = set()   # (method, path template, status)

    @classmethod
    def from_yaml(cls, text):
        return cls(yaml.safe_load(text))

    def operations(self, tags=None):
        """[(method, path template)] of documented operations (with one of tags, if given)."""
        out = []
        for path, item in self.doc["paths"].items():
            for method in METHODS:
                op = item.get(method)
                if op is not None and (tags is None or set(op.get("tags", ())) & set(tags)):
                    out.append((method, path))
        return out

    def _resolve(self, node):
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            assert ref.startswith("#/"), ref
            node = self.doc
            for part in ref[2:].split("/"):
                node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def _validator(self, pointer):
        return Draft202012Validator({"$ref": f"{DOC_URI}#{pointer}"}, registry=self.registry,
                                    format_checker=FormatChecker())

    def check(self, method, template, status, content_type, headers, body):
        where = f"{method.upper()} {template} -> {status}"
        item = self.doc["paths"].get(template)
        assert item is not None, f"{where}: path not documented"
        op = item.get(method.lower())
        assert op is not None, f"{where}: method not documented"
        responses = op["responses"]
        key = str(status)
        assert key in responses, f"{where}: status not documented (documented: {sorted(responses)})"
        resp = self._resolve(responses[key])
        for name, spec in (resp.get("headers") or {}).items():
            spec = self._resolve(spec)
            if spec.get("required"):
                assert name in headers, f"{where}: header {name} missing"
            if name in headers and "schema" in spec:
                errors = list(Draft202012Validator(spec["schema"]).iter_errors(headers[name]))
                assert not errors, f"{where}: header {name}: {errors[0].message}"
        content = resp.get("content")
        if not content:
            assert body == b"", f"{where}: documented without a body, got {body[:200]!r}"
        else:
            assert content_type in content, \
                f"{where}: content type {content_type} not documented (documented: {sorted(content)})"
            schema = self._resolve(content[content_type].get("schema") or {})
            if schema.get("format") == "binary":   # bytes: only the type is checked
                assert isinstance(body, bytes) and schema.get("type") == "string"
            else:
                value = json.loads(body) if content_type == "application/json" else body.decode()
                pointer = self._pointer_of(template, method, key, content_type, responses[key])
                errors = sorted(self._validator(pointer).iter_errors(value), key=lambda e: e.path)
                assert not errors, (f"{where}: body does not match the document: "
                                    f"{errors[0].message} at {list(errors[0].absolute_path)}; "
                                    f"body {body[:300]!r}")
        self.exercised.add((method.lower(), template, key))
        return body

    def _pointer_of(self, template, method, key, content_type, response):
        if "$ref" in response:
            base = response["$ref"][1:]
        else:
            base = f"/paths/{_escape(template)}/{method.lower()}/responses/{key}"
        return f"{base}/content/{_escape(content_type)}/schema"


class Api:
    """An aiohttp test client whose every answer is checked against the document."""

    def __init__(self, client, checker):
        self.client = client
        self.checker = checker

    async def call(self, method, template, params=None, query=None, **kw):
        path = template
        for name, value in (params or {}).items():
            path = path.replace("{" + name + "}", str(value))
        resp = await self.client.request(method, path, allow_redirects=False, params=query, **kw)
        body = await resp.read()
        ctype = resp.content_type if body or resp.headers.get("Content-Type") else None
        self.checker.check(method, template, resp.status, ctype, resp.headers, body)
        if ctype == "application/json":
            return resp.status, json.loads(body), resp
        if ctype and (ctype.startswith("text/") or ctype == "application/yaml"):
            return resp.status, body.decode(), resp
        return resp.status, body, resp
