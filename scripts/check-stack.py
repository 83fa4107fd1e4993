#!/usr/bin/env python3
"""Static checks of the compose stack that need no Docker engine.

  python3 scripts/check-stack.py COMPOSE_SPEC_SCHEMA.json

- docker-compose.yml validates against the Compose specification's JSON schema;
- every image is pinned (a tag that is not `latest`), every service has a memory limit and a
  healthcheck, and the data of Qdrant, Prometheus and Grafana lives in named volumes;
- every file or directory the stack mounts exists in the repository;
- every Grafana panel's datasource uid is provisioned;
- the OpenTelemetry Collector's pipelines reference only defined components, memory_limiter
  comes first in each, and every connector is both an exporter and a receiver.
Prints one line per problem and exits 1 if there is any.
"""
import glob
import json
import os
import sys

import jsonschema
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
problems = []


def problem(msg):
    problems.append(msg)


def load_yaml(rel):
    with open(os.path.join(ROOT, rel)) as f:
        return yaml.safe_load(f)


def check_compose(schema_path):
    compose = load_yaml("docker-compose.yml")
    with open(schema_path) as f:
        schema = json.load(f)
    validator = jsonschema.Draft201909Validator(schema)
    for err in sorted(validator.iter_errors(compose), key=lambda e: list(e.path)):
        problem(f"docker-compose.yml: {'/'.join(map(str, err.path))}: {err.message}")

    services = compose.get("services", {})
    volumes = compose.get("volumes", {}) or {}
    for name, svc in services.items():
        image = svc.get("image")
        if image:
            tag = image.rsplit("/", 1)[-1]
            if ":" not in tag or tag.endswith(":latest"):
                problem(f"service {name}: image {image} is not pinned to a tag")
        elif "build" not in svc:
            problem(f"service {name}: neither image nor build")
        limits = (((svc.get("deploy") or {}).get("resources") or {}).get("limits") or {})
        if "memory" not in limits and "mem_limit" not in svc:
            problem(f"service {name}: no memory limit")
        if "healthcheck" not in svc:
            problem(f"service {name}: no healthcheck")
        for vol in svc.get("volumes", []) or []:
            source = vol.get("source") if isinstance(vol, dict) else vol.split(":", 1)[0]
            kind = vol.get("type") if isinstance(vol, dict) else None
            if source is None:
                continue
            if source.startswith(".") or source.startswith("/") or kind == "bind":
                path = os.path.normpath(os.path.join(ROOT, source))
                if not os.path.exists(path):
                    problem(f"service {name}: mounts {source}, which does not exist")
            elif source not in volumes:
                problem(f"service {name}: named volume {source} is not declared")
        for dep, cond in (svc.get("depends_on") or {}).items() if isinstance(svc.get("depends_on"), dict) else []:
            if dep not in services:
                problem(f"service {name}: depends on unknown service {dep}")
    for wanted in ("qdrant", "prometheus", "grafana"):
        mounted = [
            (v.get("source") if isinstance(v, dict) else v.split(":", 1)[0])
            for v in (services.get(wanted, {}).get("volumes") or [])
        ]
        if not any(m in volumes for m in mounted):
            problem(f"service {wanted}: its data is not in a named volume")
    for cfg in (compose.get("configs") or {}).values():
        if "file" in cfg and not os.path.exists(os.path.join(ROOT, cfg["file"])):
            problem(f"config file {cfg['file']} does not exist")
    for sec in (compose.get("secrets") or {}).values():
        if "file" in sec and not os.path.exists(os.path.join(ROOT, sec["file"])):
            problem(f"secret file {sec['file']} does not exist")


def check_dashboards():
    uids = set()
    for path in glob.glob(os.path.join(ROOT, "dashboards/provisioning/datasources/*.yml")):
        with open(path) as f:
            for ds in (yaml.safe_load(f) or {}).get("datasources", []):
                uids.add(ds.get("uid"))
    if not uids:
        problem("no provisioned Grafana datasources")

    def walk(node, where):
        if isinstance(node, dict):
            ds = node.get("datasource")
            if isinstance(ds, dict) and ds.get("uid") not in uids and not str(ds.get("uid", "")).startswith("-- "):
                problem(f"{where}: datasource uid {ds.get('uid')!r} is not provisioned")
            elif isinstance(ds, str) and ds not in uids:
                problem(f"{where}: datasource {ds!r} is not a provisioned uid")
            for v in node.values():
                walk(v, where)
        elif isinstance(node, list):
            for v in node:
                walk(v, where)

    dashboards = glob.glob(os.path.join(ROOT, "dashboards/json/*.json"))
    if not dashboards:
        problem("no dashboards")
    for path in dashboards:
        with open(path) as f:
            walk(json.load(f), os.path.relpath(path, ROOT))


def check_collector():
    cfg = load_yaml("otel-collector/config.yaml")
    defined = {kind: set((cfg.get(kind) or {}).keys()) for kind in ("receivers", "processors", "exporters", "connectors", "extensions")}
    service = cfg.get("service") or {}
    for ext in service.get("extensions", []) or []:
        if ext not in defined["extensions"]:
            problem(f"collector: extension {ext} is not defined")
    used_as = {"exporter": set(), "receiver": set()}
    pipelines = service.get("pipelines") or {}
    if not pipelines:
        problem("collector: no pipelines")
    for name, p in pipelines.items():
        for r in p.get("receivers", []):
            if r in defined["connectors"]:
                used_as["receiver"].add(r)
            elif r not in defined["receivers"]:
                problem(f"collector pipeline {name}: receiver {r} is not defined")
        procs = p.get("processors", [])
        for pr in procs:
            if pr not in defined["processors"]:
                problem(f"collector pipeline {name}: processor {pr} is not defined")
        if procs and not procs[0].startswith("memory_limiter"):
            problem(f"collector pipeline {name}: memory_limiter must come first, not {procs[0]}")
        for e in p.get("exporters", []):
            if e in defined["connectors"]:
                used_as["exporter"].add(e)
            elif e not in defined["exporters"]:
                problem(f"collector pipeline {name}: exporter {e} is not defined")
    for c in defined["connectors"]:
        if c not in used_as["exporter"] or c not in used_as["receiver"]:
            problem(f"collector: connector {c} must be an exporter in one pipeline and a receiver in another")
    for kind in ("receivers", "processors", "exporters"):
        used = {x for p in pipelines.values() for x in p.get(kind, [])}
        for comp in defined[kind] - used:
            problem(f"collector: {kind[:-1]} {comp} is defined but used by no pipeline")
    otlp = (cfg.get("receivers") or {}).get("otlp", {}).get("protocols", {})
    if otlp.get("grpc", {}).get("endpoint") != "0.0.0.0:4317" or otlp.get("http", {}).get("endpoint") != "0.0.0.0:4318":
        problem("collector: the otlp receiver must bind 0.0.0.0:4317 (gRPC) and 0.0.0.0:4318 (HTTP) explicitly")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    check_compose(sys.argv[1])
    check_dashboards()
    check_collector()
    for p in problems:
        print(p)
    print(f"check-stack: {len(problems)} problem(s)")
    sys.exit(1 if problems else 0)
