#!/usr/bin/env python3
"""tests/derive_sunco_schemas.py — rebuilds tests/sunco_request_schemas.json from Zendesk's
published Sunshine Conversations OpenAPI document (github.com/zendesk/
sunshine-conversations-api-spec, file openapi.yaml).

    git clone https://github.com/zendesk/sunshine-conversations-api-spec spec
    python3 tests/derive_sunco_schemas.py spec/openapi.yaml <commit> > tests/sunco_request_schemas.json

For each endpoint deskbridge's driver (lib/zendesk.c) calls with a body, it takes the
operation's requestBody schema (application/json), inlines every $ref, and turns the
OpenAPI 3.0 dialect into plain JSON Schema (draft 7) that python3-jsonschema checks:

  - "nullable": true            -> the type also admits null
  - oneOf + discriminator       -> the discriminator property must be one of the mapping's
                                   keys, and an if/then per key applies that key's schema
                                   (OpenAPI picks the branch by the property's value; plain
                                   oneOf would count matches, and the branches overlap)
  - descriptions, examples, titles and x-* extensions are dropped: they are prose, not
                                   rules (and the file stays data, not a copy of the docs)
  - readOnly / writeOnly / deprecated are dropped (annotations without a request rule)

An upload's body is multipart/form-data: its schema describes the form's fields, and the
entry says "mediaType". An endpoint with query parameters lists them under "query"
(name -> required).

Endpoints the driver calls without a body (GET app, users, messages, switchboards,
switchboard integrations, integrations) are listed with "body": null.
"""

import json
import sys

import yaml

SPEC_REPO = "https://github.com/zendesk/sunshine-conversations-api-spec"
SPEC_FILE = "openapi.yaml"

# (method, path as the spec writes it) of every Sunshine Conversations call the driver makes.
ENDPOINTS = [
    ("GET", "/v2/apps/{appId}"),
    ("POST", "/v2/apps/{appId}/users"),
    ("GET", "/v2/apps/{appId}/users/{userIdOrExternalId}"),
    ("POST", "/v2/apps/{appId}/conversations"),
    ("POST", "/v2/apps/{appId}/conversations/{conversationId}/messages"),
    ("GET", "/v2/apps/{appId}/conversations/{conversationId}/messages"),
    ("POST", "/v2/apps/{appId}/conversations/{conversationId}/passControl"),
    ("POST", "/v2/apps/{appId}/conversations/{conversationId}/releaseControl"),
    ("POST", "/v2/apps/{appId}/conversations/{conversationId}/activity"),
    ("GET", "/v2/apps/{appId}/switchboards"),
    ("GET", "/v2/apps/{appId}/switchboards/{switchboardId}/switchboardIntegrations"),
    ("GET", "/v2/apps/{appId}/integrations"),
    ("POST", "/v2/apps/{appId}/attachments"),
    ("POST", "/v2/apps/{appId}/attachments/remove"),
]

DROP = {"description", "example", "examples", "title", "readOnly", "writeOnly", "deprecated",
        "externalDocs", "xml"}


class Deriver:
    def __init__(self, spec):
        self.spec = spec

    def ref(self, pointer):
        node = self.spec
        for part in pointer.lstrip("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def convert(self, node, seen=()):
        if isinstance(node, list):
            return [self.convert(n, seen) for n in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            pointer = node["$ref"]
            if pointer in seen:  # a recursive schema: stop, accepting anything below
                return {}
            return self.convert(self.ref(pointer), seen + (pointer,))
        out = {}
        for key, value in node.items():
            if key in DROP or key.startswith("x-") or key in ("nullable", "discriminator"):
                continue
            if key == "properties":
                out[key] = {name: self.convert(s, seen) for name, s in value.items()}
            elif key in ("items", "additionalProperties", "not", "allOf", "anyOf", "oneOf"):
                out[key] = self.convert(value, seen)
            else:
                out[key] = value
        disc = node.get("discriminator")
        if disc and "oneOf" in node and disc.get("mapping"):
            prop = disc["propertyName"]
            del out["oneOf"]
            out.setdefault("type", "object")
            out["required"] = sorted(set(out.get("required", [])) | {prop})
            out.setdefault("properties", {})[prop] = {"type": "string", "enum": list(disc["mapping"])}
            out["allOf"] = out.get("allOf", []) + [
                {"if": {"properties": {prop: {"const": key}}, "required": [prop]},
                 "then": self.convert({"$ref": target}, seen)}
                for key, target in disc["mapping"].items()]
        if node.get("nullable") is True:
            t = out.get("type")
            if isinstance(t, str):
                out["type"] = [t, "null"]
                if "enum" in out and None not in out["enum"]:
                    out["enum"] = out["enum"] + [None]
            elif t is None:
                out = {"anyOf": [out, {"type": "null"}]}
        return out

    def query(self, path, op):
        """The query parameters of the path and the operation: name -> required."""
        params = [self.ref(p["$ref"]) if "$ref" in p else p
                  for p in self.spec["paths"][path].get("parameters", []) + op.get("parameters", [])]
        return {p["name"]: bool(p.get("required")) for p in params if p.get("in") == "query"}

    def endpoint(self, method, path):
        op = self.spec["paths"][path][method.lower()]
        body = op.get("requestBody")
        schema = None
        media_type = None
        if body:
            # JSON bodies, but for uploads, whose form fields have a schema of their own.
            media_type = "application/json" if "application/json" in body["content"] else "multipart/form-data"
            schema = self.convert(body["content"][media_type]["schema"])
            schema["$schema"] = "http://json-schema.org/draft-07/schema#"
        out = {"operationId": op.get("operationId"), "required": bool(body and body.get("required")),
               "body": schema}
        if media_type == "multipart/form-data":
            out["mediaType"] = media_type
        query = self.query(path, op)
        if query:
            out["query"] = query
        return out


def main(argv):
    if len(argv) != 3:
        sys.exit("usage: derive_sunco_schemas.py openapi.yaml <commit>")
    with open(argv[1]) as f:
        spec = yaml.safe_load(f)
    d = Deriver(spec)
    out = {
        "note": ("Request-body JSON Schemas (draft 7) derived by tests/derive_sunco_schemas.py "
                 "from %s, file %s, commit %s (API version %s): $refs inlined, nullable and "
                 "discriminated oneOf turned into JSON Schema, prose dropped. Keys are "
                 "'METHOD path' as the spec writes the path, under the /sc base path."
                 % (SPEC_REPO, SPEC_FILE, argv[2], spec.get("info", {}).get("version"))),
        "source": {"repository": SPEC_REPO, "file": SPEC_FILE, "commit": argv[2],
                   "version": spec.get("info", {}).get("version")},
        "endpoints": {"%s %s" % (m, p): d.endpoint(m, p) for m, p in ENDPOINTS},
    }
    json.dump(out, sys.stdout, indent=1, sort_keys=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv)
