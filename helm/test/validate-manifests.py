#!/usr/bin/env python3
"""Validate rendered Kubernetes manifests offline, strictly.

usage: validate-manifests.py [-k VERSION]... [--crd KIND=SCHEMA.json]... FILE...

Every YAML document in FILE (a `helm template` output) is checked against the Kubernetes
JSON schemas bundled in the kubernetes-validate package (its "-strict" variants: a field the
API does not know is an error, as with `kubectl apply --validate=strict`), for each -k
version, and every error is reported, not just the first. A kind listed with --crd is checked
against that JSON schema (draft-07) instead. Also errors: a document without apiVersion,
kind or metadata.name, a kind with no schema, a mapping with a duplicate key.

Exit status: 0 when every document is valid, 1 when one is not, 2 on a usage error.
"""
import argparse
import json
import sys

import jsonschema
import kubernetes_validate.utils as kv
import referencing
import yaml


class StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (the API server's strict decoding does too)."""


def _mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def k8s_validator(kind, api_version, version):
    """A Draft 2020-12 validator for kind/api_version from the bundled strict schemas,
    or None when there is no schema (kubernetes_validate.utils.validate, minus the
    stop-at-first-error)."""
    versions = [v for v in kv.all_versions() if kv.major_minor(v) <= kv.major_minor(version)]
    if not versions:
        raise SystemExit(f"kubernetes-validate has no schemas for Kubernetes {version} "
                         f"(it has {kv.all_versions()[0]} to {kv.latest_version()})")
    schema_dir = "v%s-local-strict" % versions[-1]
    group = kv.re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        schema = kv.schema_contents(
            f"kubernetes-json-schema/{schema_dir}/{kind.lower()}-{group}.json", version)
    except FileNotFoundError:
        return None
    defs = kv.schema_contents(f"kubernetes-json-schema/{schema_dir}/_definitions.json", version)
    registry = referencing.Registry()
    registry = referencing.Resource.from_contents(schema) @ registry
    registry = referencing.Resource.from_contents(defs) @ registry
    return jsonschema.validators.Draft202012Validator(schema, registry=registry)


def path_of(error):
    return ".".join(str(p) for p in error.absolute_path) or "(document)"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-k", "--kubernetes-version", action="append", dest="versions",
                    help="Kubernetes version to validate against (repeatable)")
    ap.add_argument("--crd", action="append", default=[], metavar="KIND=SCHEMA.json",
                    help="validate KIND against this JSON schema instead (repeatable)")
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    versions = args.versions or [kv.latest_version()]

    crd = {}
    for spec in args.crd:
        kind, _, path = spec.partition("=")
        if not kind or not path:
            ap.error(f"--crd wants KIND=SCHEMA.json, not {spec!r}")
        with open(path) as f:
            schema = json.load(f)
        jsonschema.Draft7Validator.check_schema(schema)
        crd[kind] = jsonschema.Draft7Validator(schema)

    cache = {}
    checked = failed = 0
    for filename in args.files:
        try:
            with open(filename) as f:
                docs = [d for d in yaml.load_all(f, Loader=StrictLoader) if d is not None]
        except yaml.YAMLError as e:
            print(f"FAIL {filename}: not valid YAML: {e}")
            failed += 1
            continue
        for n, doc in enumerate(docs):
            checked += 1
            where = f"{filename} document {n + 1}"
            if not isinstance(doc, dict):
                print(f"FAIL {where}: not a mapping")
                failed += 1
                continue
            kind, api = doc.get("kind"), doc.get("apiVersion")
            name = (doc.get("metadata") or {}).get("name") if isinstance(doc.get("metadata"), dict) else None
            if not isinstance(kind, str) or not isinstance(api, str) or not isinstance(name, str):
                print(f"FAIL {where}: needs apiVersion, kind and metadata.name")
                failed += 1
                continue
            label = f"{kind}/{name} ({api})"
            errors = []
            if kind in crd:
                errors = [f"{path_of(e)}: {e.message}" for e in crd[kind].iter_errors(doc)]
                against = "its JSON schema"
            else:
                for version in versions:
                    key = (kind, api, version)
                    if key not in cache:
                        cache[key] = k8s_validator(kind, api, version)
                    validator = cache[key]
                    if validator is None:
                        errors.append(f"no schema for {api} {kind} in Kubernetes {version} "
                                      "(unknown kind, or an API version that Kubernetes does not serve)")
                        continue
                    errors += [f"[{kv.major_minor(version)}] {path_of(e)}: {e.message}"
                               for e in validator.iter_errors(doc)]
                against = "Kubernetes " + ", ".join(kv.major_minor(v) for v in versions)
            if errors:
                failed += 1
                print(f"FAIL {filename}: {label}")
                for e in sorted(set(errors)):
                    print(f"     {e}")
            else:
                print(f"ok   {filename}: {label} against {against}")
    if checked == 0:
        print("FAIL: no documents to validate")
        return 1
    print(f"{checked} documents, {failed} invalid")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
