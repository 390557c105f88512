#!/usr/bin/env python3
"""test_ocppgen — tools/ocppgen.py stays strict: a schema using a keyword, or a keyword form,
that ocpp/schema.c does not interpret must fail the build instead of being compiled without
its constraint. Usage: test_ocppgen.py OCPPGEN.
"""
import json
import os
import subprocess
import sys
import tempfile

OCPPGEN = sys.argv[1]


def definitions_file(defs, **top):
    doc = {"$schema": "http://json-schema.org/draft-07/schema#", "$id": "urn:t", **top,
           "definitions": defs}
    return doc


def run(doc):
    """(exit status, stderr) of compiling doc with --definitions."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "t.json")
        with open(path, "w") as f:
            json.dump(doc, f)
        p = subprocess.run([sys.executable, OCPPGEN, "--definitions", "t", "--outdir", d, path],
                           capture_output=True, text=True)
        made = os.path.exists(os.path.join(d, "t_schema.c"))
        return p.returncode, p.stderr, made


REFUSED = {
    "unknown keyword": {"type": "array", "uniqueItems": True},
    "unknown keyword on a string": {"type": "string", "contentEncoding": "base64"},
    "pattern with a wildcard": {"type": "string", "pattern": "^a.b"},
    "unanchored pattern": {"type": "string", "pattern": "abc"},
    "pattern anchored at the end": {"type": "string", "pattern": "^abc$"},
    "pattern of a class": {"type": "string", "pattern": "^[a-z]"},
    "empty prefix": {"type": "string", "pattern": "^"},
    "type list with another keyword": {"type": ["string", "object"], "maxLength": 3},
    "type list of one": {"type": ["string"]},
    "unknown type in a list": {"type": ["string", "null"]},
    "minimum and exclusiveMinimum": {"type": "number", "minimum": 0, "exclusiveMinimum": 0},
    "draft-04 boolean exclusiveMaximum": {"type": "number", "maximum": 1,
                                          "exclusiveMaximum": True},
    "enum without type, not strings": {"enum": ["a", 1]},
    "minLength above maxLength": {"type": "string", "minLength": 4, "maxLength": 3},
    "negative minLength": {"type": "string", "minLength": -1},
    "additionalProperties as a schema": {"type": "object", "additionalProperties": {}},
    "nested unknown keyword": {"type": "object", "properties": {
        "a": {"type": "array", "items": {"type": "string", "const": "x"}}}},
}


def main():
    failures = 0
    for what, schema in REFUSED.items():
        rc, err, made = run(definitions_file({"m": schema}))
        if rc != 1 or "ocppgen: error:" not in err or made:
            print(f"FAIL: {what} compiled (exit {rc}): {err.strip()}")
            failures += 1
    for what, doc in {
            "a root schema next to definitions": definitions_file({"m": {}}, type="object"),
            "no definitions": definitions_file({}),
    }.items():
        rc, err, made = run(doc)
        if rc != 1 or made:
            print(f"FAIL: {what} compiled (exit {rc})")
            failures += 1
    # and what it supports still compiles
    rc, err, made = run(definitions_file({"m": {
        "type": "object", "additionalProperties": False, "required": ["a"],
        "properties": {"a": {"type": "string", "minLength": 1, "pattern": "^x\\.y"},
                       "b": {"enum": ["A", "B"]}, "c": {"type": ["string", "object"]},
                       "d": {"type": "integer", "exclusiveMinimum": 0}}}}))
    if rc != 0 or not made:
        print(f"FAIL: a supported schema was refused: {err.strip()}")
        failures += 1
    print(f"{len(REFUSED) + 3 - failures} of {len(REFUSED) + 3} generator checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
