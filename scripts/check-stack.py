#!/usr/bin/env python3
"""Static checks of the compose stack that need no Docker engine.

  python3 scripts/check-stack.py COMPOSE_SPEC_SCHEMA.json

- docker-compose.yml validates against the Compose specification's JSON schema;
- every pulled image comes from a .env variable whose default is pinned to a tag (not `latest`),
  and a value set in .env keeps that tag; every service has a memory limit and a healthcheck, and
  the data of Qdrant, Prometheus and Grafana lives in named volumes;
- every file or directory the stack mounts exists in the repository;
- every Grafana panel's datasource uid is provisioned, and so is every datasource a datasource
  links to; dashboard uids and panel ids are unique, and every /d/<uid> link has a dashboard;
- `exemplar: true` only on timeseries or heatmap queries over histograms that carry exemplars
  (the collector's span metrics and the app's request duration), with the exemplar label
  trace_id mapped to a trace datasource; span-metric names follow the collector's namespace;
- the OpenTelemetry Collector's configurations (config.yaml, loadbalancer.yaml) use only component
  types of the pinned release (otel-collector/components-<version>.txt, whose version is the
  image's tag), by their current names; pipelines reference only defined components, memory_limiter
  comes first where a receiver feeds, every connector is both an exporter and a receiver, push
  exporters batch in their sending_queue; span metrics are computed before tail sampling, which
  keeps errors, slow requests and every stage over its budget (core/src/semconv.rs);
- Jaeger's Monitor tab (jaeger/config.yaml) reads the span metrics by the names the collector
  writes.
Prints one line per problem and exits 1 if there is any.
"""
import glob
import json
import os
import re
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
    check_images(services)
    for name, svc in services.items():
        if not svc.get("image") and "build" not in svc:
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


# The histograms whose buckets carry trace-id exemplars (OpenMetrics), besides the collector's span
# metrics: the app's request duration. Every other series (metrics-exporter-prometheus counters and
# histograms, recording rules, the collector's own telemetry) has none, so `exemplar: true` on a
# query over them only draws nothing.
APP_EXEMPLAR_METRICS = {"http_server_request_duration_seconds_bucket"}
# Panels that draw exemplars.
EXEMPLAR_PANELS = {"timeseries", "heatmap"}
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
                "bool", "offset", "inf", "nan"}


def promql_metrics(expr):
    """The metric names a PromQL expression selects (label matchers, ranges, strings, grouping
    clauses and function names left out)."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    s = re.sub(r"\{[^}]*\}", " ", s)
    s = re.sub(r"\[[^\]]*\]", " ", s)
    s = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    names = set()
    for m in re.finditer(r"(?<![\w.$])([A-Za-z_:][\w:]*)\s*(\()?", s):
        if not m.group(2) and m.group(1).lower() not in PROMQL_WORDS:
            names.add(m.group(1))
    return names


def span_metrics_names():
    """(namespace, duration bucket metric, exemplars on) of the collector's span metrics, as its
    prometheus exporter names them."""
    connectors = load_yaml("otel-collector/config.yaml").get("connectors") or {}
    found = [v for k, v in connectors.items() if k.split("/")[0] in ("span_metrics", "spanmetrics")]
    if not found:
        return None, None, False
    sm = found[0] or {}
    ns = (sm.get("namespace") or "traces.span.metrics").replace(".", "_")
    unit = ((sm.get("histogram") or {}).get("unit") or "ms")
    suffix = {"s": "seconds", "ms": "milliseconds"}.get(unit, unit)
    return ns, f"{ns}_duration_{suffix}_bucket", bool((sm.get("exemplars") or {}).get("enabled"))


def check_dashboards():
    uids, kinds, referenced, destinations = set(), {}, [], []

    def refs(owner, node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "datasourceUid":
                    referenced.append((owner, v))
                refs(owner, v)
        elif isinstance(node, list):
            for v in node:
                refs(owner, v)

    for path in glob.glob(os.path.join(ROOT, "dashboards/provisioning/datasources/*.yml")):
        with open(path) as f:
            for ds in (yaml.safe_load(f) or {}).get("datasources", []):
                uids.add(ds.get("uid"))
                kinds[ds.get("uid")] = ds.get("type")
                json_data = ds.get("jsonData") or {}
                refs(ds.get("uid"), json_data)
                destinations += [(ds.get("uid"), d) for d in json_data.get("exemplarTraceIdDestinations") or []]
    if not uids:
        problem("no provisioned Grafana datasources")
    for owner, uid in referenced:
        if uid not in uids:
            problem(f"datasource {owner}: links to datasource uid {uid!r}, which is not provisioned")
    # Exemplar label -> trace datasource (the label both the collector and the app use is trace_id).
    exemplar_labels = set()
    for owner, dest in destinations:
        if kinds.get(dest.get("datasourceUid")) in ("jaeger", "tempo", "zipkin"):
            exemplar_labels.add(dest.get("name"))
        else:
            problem(f"datasource {owner}: exemplar label {dest.get('name')} does not lead to a trace datasource")

    span_ns, span_bucket, span_exemplars = span_metrics_names()
    exemplar_metrics = set(APP_EXEMPLAR_METRICS)
    if span_bucket and span_exemplars:
        exemplar_metrics.add(span_bucket)
    with open(os.path.join(ROOT, "core/src/semconv.rs")) as f:
        semconv = f.read()
    for name in APP_EXEMPLAR_METRICS:
        if f'"{name.removesuffix("_bucket")}"' not in semconv:
            problem(f"check-stack.py: {name} is not a histogram of core/src/semconv.rs any more")

    def walk(node, where, panel):
        if isinstance(node, dict):
            ds = node.get("datasource")
            if isinstance(ds, dict) and ds.get("uid") not in uids and not str(ds.get("uid", "")).startswith("-- "):
                problem(f"{where}: datasource uid {ds.get('uid')!r} is not provisioned")
            elif isinstance(ds, str) and ds not in uids:
                problem(f"{where}: datasource {ds!r} is not a provisioned uid")
            if "gridPos" in node and "type" in node:
                panel = node
            expr = node.get("expr")
            if isinstance(expr, str):
                title = f"{where}: panel {panel.get('title')!r}" if panel else where
                names = promql_metrics(expr)
                for name in names:
                    if ("span_metrics" in name or "spanmetrics" in name) and span_ns and not name.startswith(span_ns + "_"):
                        problem(f"{title}: {name} is not named after the collector's span-metrics namespace {span_ns}")
                if node.get("exemplar") is True:
                    dead = sorted(n for n in names if n not in exemplar_metrics)
                    if dead or not names:
                        problem(f"{title}: exemplar: true on {', '.join(dead) or expr}, which never carries exemplars")
                    if panel and panel.get("type") not in EXEMPLAR_PANELS:
                        problem(f"{title}: exemplar: true on a {panel.get('type')} panel, which draws no exemplars")
                    exemplar_queries.append(title)
            for v in node.values():
                walk(v, where, panel)
        elif isinstance(node, list):
            for v in node:
                walk(v, where, panel)

    exemplar_queries = []
    dashboards = sorted(glob.glob(os.path.join(ROOT, "dashboards/json/*.json")))
    if not dashboards:
        problem("no dashboards")
    seen_uids, links = {}, []
    for path in dashboards:
        rel = os.path.relpath(path, ROOT)
        with open(path) as f:
            dash = json.load(f)
        uid = dash.get("uid")
        if not uid or uid in seen_uids:
            problem(f"{rel}: dashboard uid {uid!r} is missing or also used by {seen_uids.get(uid)}")
        seen_uids[uid] = rel
        ids = []

        def panels(ps):
            for p in ps or []:
                yield p
                yield from panels(p.get("panels"))

        for p in panels(dash.get("panels")):
            ids.append(p.get("id"))
        for dup in sorted({i for i in ids if ids.count(i) > 1}, key=str):
            problem(f"{rel}: panel id {dup} is used twice")
        walk(dash, rel, None)
        links += [(rel, m) for m in re.findall(r'"url": "/d/([\w-]+)', json.dumps(dash))]
    for rel, uid in links:
        if uid not in seen_uids:
            problem(f"{rel}: links to dashboard uid {uid}, which no file in dashboards/json has")
    if exemplar_queries and "trace_id" not in exemplar_labels:
        problem(f"{exemplar_queries[0]} (and {len(exemplar_queries) - 1} more): exemplar: true, but no datasource "
                "maps the exemplar label trace_id to a trace datasource (exemplarTraceIdDestinations)")


# --- Images --------------------------------------------------------------------------------
# `${VAR:-default}` in an image reference: the variable a workshop sets in .env and the pinned
# default written in docker-compose.yml.
IMAGE_VAR = re.compile(r"^\$\{([A-Z][A-Z0-9_]*):-([^}]+)\}$")


def dotenv():
    """The KEY=value lines of .env (compose reads it by itself), comments and blanks left out."""
    values = {}
    path = os.path.join(ROOT, ".env")
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith("#") and "=" in line:
                    key, value = line.split("=", 1)
                    values[key.strip()] = value.strip()
    return values


def image_tag(ref):
    """The tag of an image reference (`registry:5000/a/b:tag` -> `tag`), or None."""
    last = ref.rsplit("/", 1)[-1]
    return last.split(":", 1)[1].split("@", 1)[0] if ":" in last else None


def check_images(services):
    """Every pulled image comes from a variable of .env whose default is the pinned reference, and
    a value set in .env keeps the default's tag (a mirror or GHCR/Quay, never another version)."""
    env = dotenv()
    for name, svc in services.items():
        image = svc.get("image")
        if not image or "build" in svc:
            continue
        m = IMAGE_VAR.match(image)
        if not m:
            problem(f"service {name}: image {image} does not come from a .env variable "
                    "(write it as ${NAME_IMAGE:-pinned/reference:tag})")
            continue
        var, default = m.groups()
        tag = image_tag(default)
        if not tag or tag == "latest":
            problem(f"service {name}: image default {default} is not pinned to a tag")
        if env.get(var) and image_tag(env[var]) != tag:
            problem(f"service {name}: .env sets {var}={env[var]}, whose tag is not the pinned {tag}")


# --- OpenTelemetry Collector ---------------------------------------------------------------
COLLECTOR_KINDS = {"receiver": "receivers", "processor": "processors", "exporter": "exporters",
                   "connector": "connectors", "extension": "extensions"}
# Exporters that push over the network: they batch in their own sending queue (exporterhelper),
# as the collector's release notes ask, instead of in the retired batch processor.
PUSH_EXPORTERS = {"otlp_grpc", "otlp_http", "load_balancing"}
SAMPLERS = {"tail_sampling", "probabilistic_sampler"}


def component_list():
    """(version, {kind: {type: [aliases]}}) from otel-collector/components-<version>.txt."""
    files = sorted(glob.glob(os.path.join(ROOT, "otel-collector/components-*.txt")))
    if len(files) != 1:
        problem(f"otel-collector: expected one components-<version>.txt, found {len(files)}")
        return None, {}
    rel = os.path.relpath(files[0], ROOT)
    version, listed = None, {k: {} for k in COLLECTOR_KINDS}
    with open(files[0]) as f:
        for line in f:
            m = re.match(r"#\s*version:\s*(\S+)", line)
            if m:
                version = m.group(1)
            if line.startswith("#") or not line.strip():
                continue
            fields = line.split()
            if len(fields) != 4 or fields[0] not in COLLECTOR_KINDS:
                problem(f"{rel}: cannot read line {line.strip()!r} (kind type aliases module)")
                continue
            kind, ctype, aliases, _module = fields
            listed[kind][ctype] = [] if aliases == "-" else aliases.split(",")
    if version is None or f"components-{version}.txt" != os.path.basename(files[0]):
        problem(f"{rel}: its `# version:` line must name the version in the file name")
    return version, listed


def check_components(rel, cfg, listed):
    """Every component type the configuration defines is in the pinned release's list, by its
    current name."""
    for kind, section in COLLECTOR_KINDS.items():
        known = listed.get(kind, {})
        aliases = {a: t for t, al in known.items() for a in al}
        for cid in (cfg.get(section) or {}):
            ctype = cid.split("/", 1)[0]
            if ctype in aliases:
                problem(f"{rel}: {kind} {cid} uses the deprecated name {ctype}; the current type is {aliases[ctype]}")
            elif ctype not in known:
                problem(f"{rel}: {kind} type {ctype} ({cid}) is not in the pinned collector's component list")


def check_pipelines(rel, cfg):
    defined = {s: set((cfg.get(s) or {}).keys()) for s in COLLECTOR_KINDS.values()}
    service = cfg.get("service") or {}
    for ext in service.get("extensions", []) or []:
        if ext not in defined["extensions"]:
            problem(f"{rel}: extension {ext} is not defined")
    used_as = {"exporter": set(), "receiver": set()}
    pipelines = service.get("pipelines") or {}
    if not pipelines:
        problem(f"{rel}: no pipelines")
    for name, p in pipelines.items():
        from_receiver = False
        for r in p.get("receivers", []):
            if r in defined["connectors"]:
                used_as["receiver"].add(r)
            elif r not in defined["receivers"]:
                problem(f"{rel} pipeline {name}: receiver {r} is not defined")
            else:
                from_receiver = True
        procs = p.get("processors", [])
        for pr in procs:
            if pr not in defined["processors"]:
                problem(f"{rel} pipeline {name}: processor {pr} is not defined")
            if pr.split("/")[0] == "batch":
                problem(f"{rel} pipeline {name}: batch processor; batch in the exporters' sending_queue instead")
        # Data that comes through a connector has passed a memory_limiter already.
        if from_receiver and (not procs or not procs[0].startswith("memory_limiter")):
            problem(f"{rel} pipeline {name}: memory_limiter must come first in a pipeline fed by a receiver")
        for e in p.get("exporters", []):
            if e in defined["connectors"]:
                used_as["exporter"].add(e)
            elif e not in defined["exporters"]:
                problem(f"{rel} pipeline {name}: exporter {e} is not defined")
    for c in defined["connectors"]:
        if c not in used_as["exporter"] or c not in used_as["receiver"]:
            problem(f"{rel}: connector {c} must be an exporter in one pipeline and a receiver in another")
    for section in ("receivers", "processors", "exporters"):
        used = {x for p in pipelines.values() for x in p.get(section, [])}
        for comp in defined[section] - used:
            problem(f"{rel}: {section[:-1]} {comp} is defined but used by no pipeline")
    for eid, ecfg in (cfg.get("exporters") or {}).items():
        if eid.split("/")[0] in PUSH_EXPORTERS:
            queue = (ecfg or {}).get("sending_queue") or {}
            if queue.get("enabled") is False or not isinstance(queue.get("batch"), dict):
                problem(f"{rel}: exporter {eid} must batch in its own sending_queue (sending_queue.batch)")
    otlp = (cfg.get("receivers") or {}).get("otlp", {}).get("protocols", {})
    if otlp.get("grpc", {}).get("endpoint") != "0.0.0.0:4317" or otlp.get("http", {}).get("endpoint") != "0.0.0.0:4318":
        problem(f"{rel}: the otlp receiver must bind 0.0.0.0:4317 (gRPC) and 0.0.0.0:4318 (HTTP) explicitly")
    return pipelines


def stage_budgets():
    """{stage: budget in ms} from core/src/semconv.rs (Stage::as_str and Stage::budget_ms)."""
    with open(os.path.join(ROOT, "core/src/semconv.rs")) as f:
        src = f.read()

    def arms(fn):
        m = re.search(r"fn " + fn + r"\(self\)[^{]*\{\s*match self \{(.*?)\n\s*\}", src, re.S)
        return dict(re.findall(r"Stage::(\w+)\s*=>\s*\"?(\w+)\"?", m.group(1))) if m else {}

    names, budgets = arms("as_str"), arms("budget_ms")
    if not names or set(names) != set(budgets):
        problem("check-stack.py: cannot read Stage::as_str / Stage::budget_ms in core/src/semconv.rs")
        return {}
    return {names[v]: int(budgets[v]) for v in names}


def check_sampling(rel, cfg, pipelines):
    """Span metrics are computed before any sampling, and tail sampling keeps every error, every
    slow request and every stage over its budget, plus a probabilistic share of the rest."""
    connectors = set((cfg.get("connectors") or {}).keys())
    span_metrics = {c for c in connectors if c.split("/")[0] == "span_metrics"}
    # Pipelines whose data has been sampled: those with a sampler, and those fed through a
    # connector by a sampled pipeline.
    sampled = {n for n, p in pipelines.items() if any(x.split("/")[0] in SAMPLERS for x in p.get("processors", []))}
    while True:
        more = {n for n, p in pipelines.items() if n not in sampled and any(
            r in connectors and any(r in pipelines[s].get("exporters", []) for s in sampled)
            for r in p.get("receivers", []))}
        if not more:
            break
        sampled |= more
    for n in sorted(sampled):
        for e in pipelines[n].get("exporters", []):
            if e in span_metrics:
                problem(f"{rel} pipeline {n}: span metrics after sampling count only the kept traces; compute them before")
    ts = [v or {} for k, v in (cfg.get("processors") or {}).items() if k.split("/")[0] == "tail_sampling"]
    if not ts:
        problem(f"{rel}: no tail_sampling processor")
        return
    policies = ts[0].get("policies") or []
    by_type = {}
    for pol in policies:
        by_type.setdefault(pol.get("type"), []).append(pol)
    if not any("ERROR" in ((p.get("status_code") or {}).get("status_codes") or []) for p in by_type.get("status_code", [])):
        problem(f"{rel}: tail_sampling keeps no error traces (a status_code policy with ERROR)")
    if not by_type.get("latency"):
        problem(f"{rel}: tail_sampling has no latency policy for slow requests")
    if not by_type.get("probabilistic"):
        problem(f"{rel}: tail_sampling keeps no probabilistic share of the other traces")
    conditions = [c for p in by_type.get("ottl_condition", []) for c in (p.get("ottl_condition") or {}).get("span") or []]
    for stage, ms in sorted(stage_budgets().items()):
        want = re.compile(r'attributes\["ragtrace\.stage"\]\s*==\s*"' + re.escape(stage) +
                          r'".*end_time_unix_nano\s*-\s*start_time_unix_nano\s*>\s*' + str(ms * 1_000_000) + r"\b")
        if not any(want.search(c) for c in conditions):
            problem(f"{rel}: tail_sampling keeps no trace whose {stage} stage is over its {ms} ms budget "
                    f"(core/src/semconv.rs); expected an ottl_condition on its span duration > {ms * 1_000_000} ns")


def check_jaeger_spm(collector_cfg):
    """Jaeger's Monitor tab queries the span metrics under the names the collector writes."""
    path = os.path.join(ROOT, "jaeger/config.yaml")
    if not os.path.exists(path):
        problem("jaeger/config.yaml is missing (the Monitor tab's metrics backend)")
        return
    jcfg = load_yaml("jaeger/config.yaml") or {}
    ext = jcfg.get("extensions") or {}
    metrics_store = ((ext.get("jaeger_query") or {}).get("storage") or {}).get("metrics")
    backend = (((ext.get("jaeger_storage") or {}).get("metric_backends") or {}).get(metrics_store) or {}).get("prometheus")
    if not metrics_store or not backend:
        problem("jaeger/config.yaml: jaeger_query.storage.metrics must name a prometheus metric_backends entry")
        return
    if not str(backend.get("endpoint", "")).startswith("http://prometheus:9090"):
        problem("jaeger/config.yaml: the metrics backend must be the stack's Prometheus (http://prometheus:9090)")
    sm = [v or {} for k, v in (collector_cfg.get("connectors") or {}).items() if k.split("/")[0] == "span_metrics"]
    if not sm:
        problem("otel-collector/config.yaml: no span_metrics connector for Jaeger's Monitor tab")
        return
    sm = sm[0]
    namespace = (sm.get("namespace") or "traces.span.metrics").replace(".", "_")
    unit = (sm.get("histogram") or {}).get("unit") or "ms"
    if backend.get("metric_namespace", "traces_span_metrics") != namespace:
        problem(f"jaeger/config.yaml: metric_namespace {backend.get('metric_namespace')} is not the span_metrics namespace {namespace}")
    if backend.get("latency_unit", "ms") != unit:
        problem(f"jaeger/config.yaml: latency_unit {backend.get('latency_unit', 'ms')} is not the span_metrics histogram unit {unit}")
    if not (backend.get("normalize_calls") and backend.get("normalize_duration")):
        problem("jaeger/config.yaml: normalize_calls and normalize_duration must be on (the collector's prometheus exporter adds _total and the unit)")
    excluded = set(sm.get("exclude_dimensions") or [])
    for dim in ("service.name", "span.name", "span.kind", "status.code"):
        if dim in excluded:
            problem(f"otel-collector/config.yaml: span_metrics excludes {dim}, which Jaeger's Monitor tab needs")
    ui = ((ext.get("jaeger_query") or {}).get("ui") or {}).get("config_file")
    if ui:
        local = os.path.join(ROOT, "jaeger", os.path.basename(ui))
        if not os.path.exists(local) or not (json.load(open(local)).get("monitor") or {}).get("menuEnabled"):
            problem(f"jaeger/{os.path.basename(ui)}: monitor.menuEnabled must be true")


def check_collector():
    version, listed = component_list()
    cfg = load_yaml("otel-collector/config.yaml")
    pipelines = check_pipelines("otel-collector/config.yaml", cfg)
    check_components("otel-collector/config.yaml", cfg, listed)
    check_sampling("otel-collector/config.yaml", cfg, pipelines)
    check_jaeger_spm(cfg)
    # The scale-out example: the load-balancing tier routes by trace id.
    lb = load_yaml("otel-collector/loadbalancer.yaml")
    check_pipelines("otel-collector/loadbalancer.yaml", lb)
    check_components("otel-collector/loadbalancer.yaml", lb, listed)
    lbe = [v or {} for k, v in (lb.get("exporters") or {}).items() if k.split("/")[0] == "load_balancing"]
    if not lbe or lbe[0].get("routing_key", "traceID") != "traceID":
        problem("otel-collector/loadbalancer.yaml: needs a load_balancing exporter routing by traceID")
    # The image runs the version whose component list the configuration was checked against.
    compose = load_yaml("docker-compose.yml")
    image = ((compose.get("services") or {}).get("otel-collector") or {}).get("image", "")
    m = IMAGE_VAR.match(image)
    refs = [m.group(2)] if m else [image]
    if m and dotenv().get(m.group(1)):
        refs.append(dotenv()[m.group(1)])
    for ref in refs:
        if version and image_tag(ref) != version:
            problem(f"otel-collector image {ref}: tag is not {version}, the version of the vendored component list")


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
