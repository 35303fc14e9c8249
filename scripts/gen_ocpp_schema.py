#!/usr/bin/env python3
"""gen_ocpp_schema.py: the OCPP JSON schemas (proto/ocpp/*.json) -> C tables + test examples.

Usage: gen_ocpp_schema.py PROTO_DIR OUT_C OUT_EXAMPLES_JSON

OUT_C holds every schema node of OCPP 1.6, 2.0.1 and 2.1 as constant tables (types,
required, enums, string lengths, numeric bounds, multipleOf, formats, nested objects and
arrays, additionalProperties); `ocpp_schema.c` walks them, so no per-message check is written
by hand. Identical nodes are stored once. OUT_EXAMPLES_JSON holds, for every message of 1.6
and 2.0.1 in both directions, valid examples and single-fault invalid examples with the error
kind that the OCPP-J rules prescribe (docs/ocpp-core.md, "Validation errors -> OCPP error
codes"), derived here from the schemas independently of the C code: the unit test fails if a
table or the walker is wrong.
The output is deterministic (sorted, no timestamps)."""
import json
import os
import sys

VERSIONS = [("ocpp1_6.json", "OCPP_V16", "1.6"), ("ocpp2_0_1.json", "OCPP_V201", "2.0.1"),
            ("ocpp2_1.json", "OCPP_V21", "2.1")]

# Which side sends the CALL (the schemas do not say). Everything not listed is sent by the
# CSMS; DataTransfer goes both ways. 2.1: the 2.0.1 set and its new station messages (part 2
# of the 2.1 specification, the "Messages" tables); NotifyWebPaymentStarted, NotifyAllowed-
# EnergyTransfer and the DER, tariff and stream requests other than those below go CSMS -> station.
CP_INITIATED = {
    "1.6": {"Authorize", "BootNotification", "DataTransfer", "DiagnosticsStatusNotification",
            "FirmwareStatusNotification", "Heartbeat", "MeterValues", "StartTransaction",
            "StatusNotification", "StopTransaction", "LogStatusNotification",
            "SecurityEventNotification", "SignCertificate", "SignedFirmwareStatusNotification"},
    "2.0.1": {"Authorize", "BootNotification", "ClearedChargingLimit", "DataTransfer",
              "FirmwareStatusNotification", "Get15118EVCertificate", "GetCertificateStatus",
              "Heartbeat", "LogStatusNotification", "MeterValues", "NotifyChargingLimit",
              "NotifyCustomerInformation", "NotifyDisplayMessages", "NotifyEVChargingNeeds",
              "NotifyEVChargingSchedule", "NotifyEvent", "NotifyMonitoringReport", "NotifyReport",
              "PublishFirmwareStatusNotification", "ReportChargingProfiles",
              "ReservationStatusUpdate", "SecurityEventNotification", "SignCertificate",
              "StatusNotification", "TransactionEvent"},
}
CP_INITIATED["2.1"] = CP_INITIATED["2.0.1"] | {
    "BatterySwap", "ClosePeriodicEventStream", "GetCertificateChainStatus", "NotifyDERAlarm",
    "NotifyDERStartStop", "NotifyPeriodicEventStream", "NotifyPriorityCharging",
    "NotifySettlement", "OpenPeriodicEventStream", "PullDynamicScheduleUpdate",
    "ReportDERControl", "VatNumberValidation"}
BOTH_WAYS = {"DataTransfer"}

KIND = {None: "OS_ANY", "object": "OS_OBJECT", "array": "OS_ARRAY", "string": "OS_STRING",
        "integer": "OS_INTEGER", "number": "OS_NUMBER", "boolean": "OS_BOOLEAN"}
FORMATS = {None: "OS_FMT_NONE", "date-time": "OS_FMT_DATE_TIME", "uri": "OS_FMT_URI"}
HANDLED = {"type", "properties", "required", "additionalProperties", "items", "minItems",
           "maxItems", "maxLength", "minLength", "enum", "format", "minimum", "maximum",
           "multipleOf", "$ref", "description", "default", "javaType", "additionalItems",
           "$id", "$schema", "definitions", "comment", "tsEnumNames"}


def split_id(sid):
    name = sid[len("urn:"):]
    for suffix, resp in ((".req", 0), (".conf", 1), ("Request", 0), ("Response", 1)):
        if name.endswith(suffix):
            return name[: -len(suffix)], resp
    return name, 0  # 2.1 SEND messages (no response)


def resolve(node, root):
    while "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/definitions/"):
            raise SystemExit("unsupported $ref " + ref)
        node = root["definitions"][ref[len("#/definitions/"):]]
    return node


class Tables:
    def __init__(self):
        self.nodes = []  # tuples (C initialiser text)
        self.index = {}
        self.props = []
        self.enums = []
        self.enum_index = {}

    def enum_list(self, values):
        key = tuple(values)
        if key not in self.enum_index:
            self.enum_index[key] = len(self.enums)
            self.enums.extend(values)
        return self.enum_index[key]

    def node(self, node, root, depth=0):
        if depth > 32:
            raise SystemExit("schema nesting too deep (recursive $ref?)")
        node = resolve(node, root)
        unknown = set(node) - HANDLED
        if unknown:
            raise SystemExit("unsupported schema keywords %s" % sorted(unknown))
        t = node.get("type")
        if isinstance(t, list) or t not in KIND:
            raise SystemExit("unsupported type %r" % (t,))
        f = {"kind": KIND[t], "format": FORMATS[node.get("format")], "additional": 0,
             "nprops": 0, "first": 0, "nenum": 0, "min_len": -1, "max_len": -1, "items": 0,
             "has_min": 0, "has_max": 0, "minimum": 0, "maximum": 0, "multiple_of": 0}
        if t == "object":
            f["additional"] = 0 if node.get("additionalProperties", True) is False else 1
            required = node.get("required", [])
            props = []
            for name in sorted(node.get("properties", {})):
                child = self.node(node["properties"][name], root, depth + 1)
                props.append((name, child, 1 if name in required else 0))
            for r in required:
                if r not in node.get("properties", {}):
                    raise SystemExit("required %s without a property schema" % r)
            key = ("props", tuple(props))
            f["nprops"] = len(props)
            f["first"] = self.prop_list(props)
        elif t == "array":
            f["items"] = self.node(node["items"], root, depth + 1)
            f["min_len"] = node.get("minItems", -1)
            f["max_len"] = node.get("maxItems", -1)
        elif t == "string":
            f["min_len"] = node.get("minLength", -1)
            f["max_len"] = node.get("maxLength", -1)
            if "enum" in node:
                f["nenum"] = len(node["enum"])
                f["first"] = self.enum_list(node["enum"])
        if t in ("integer", "number"):
            if "minimum" in node:
                f["has_min"], f["minimum"] = 1, node["minimum"]
            if "maximum" in node:
                f["has_max"], f["maximum"] = 1, node["maximum"]
            f["multiple_of"] = node.get("multipleOf", 0)
        key = tuple(sorted(f.items()))
        if key not in self.index:
            self.index[key] = len(self.nodes)
            self.nodes.append(f)
        return self.index[key]

    def prop_list(self, props):
        # identical property lists share storage
        for start in range(0, len(self.props) - len(props) + 1):
            if self.props[start:start + len(props)] == props:
                return start
        start = len(self.props)
        self.props.extend(props)
        return start


def num(v):
    if isinstance(v, bool):
        v = int(v)
    if isinstance(v, int):
        return "%d.0" % v
    return repr(float(v))


def cstr(s):
    return json.dumps(s)  # ASCII-only JSON string literal is a valid C literal here


def generate(proto_dir):
    tables = Tables()
    tables.nodes.append(None)  # node 0: unused, so 0 can mean "none"
    messages = []  # (version enum, version name, action, dir, req node, conf node)
    raw = {}
    for fname, venum, vname in VERSIONS:
        schemas = json.load(open(os.path.join(proto_dir, fname)))
        actions = {}
        for s in schemas:
            action, resp = split_id(s["$id"])
            actions.setdefault(action, [None, None])[resp] = s
        raw[vname] = actions
        for action in sorted(actions):
            req, conf = actions[action]
            if req is None or (conf is None and vname != "2.1"):
                raise SystemExit("%s %s lacks a request or response schema" % (vname, action))
            if vname in CP_INITIATED:
                d = "OS_BOTH" if action in BOTH_WAYS else (
                    "OS_FROM_CP" if action in CP_INITIATED[vname] else "OS_FROM_CSMS")
            else:
                d = "OS_UNKNOWN_DIR"
            messages.append((venum, vname, action, d, tables.node(req, req),
                             tables.node(conf, conf) if conf else 0))
    return tables, messages, raw


def write_c(path, tables, messages):
    out = []
    w = out.append
    w("/* ocpp_schema_data: GENERATED by scripts/gen_ocpp_schema.py from proto/ocpp/ocpp*.json.")
    w(" * Do not edit: run `make code`. The official OCPP JSON schemas as constant tables,")
    w(" * walked by ocpp_schema.c. */")
    w('#include "ocpp_schema.h"')
    w("")
    w("static const char *const ENUMS[] = {")
    for e in tables.enums:
        w("    %s," % cstr(e))
    w("};")
    w("")
    w("static const os_prop_t PROPS[] = {")
    for name, node, req in tables.props:
        w("    {%s, %d, %d}," % (cstr(name), node, req))
    w("};")
    w("")
    w("static const os_node_t NODES[] = {")
    w("    {0},")
    for f in tables.nodes[1:]:
        w("    {%s, %s, %d, %d, %d, %d, %d, %d, %d, %d, %d, %s, %s, %s}," % (
            f["kind"], f["format"], f["additional"], f["has_min"], f["has_max"], f["nprops"],
            f["nenum"], f["first"], f["min_len"], f["max_len"], f["items"], num(f["minimum"]),
            num(f["maximum"]), num(f["multiple_of"])))
    w("};")
    w("")
    w("/* sorted by version, then action (strcmp order) */")
    w("static const ocpp_schema_msg_t MESSAGES[] = {")
    order = {"1.6": 0, "2.0.1": 1, "2.1": 2}
    msgs = sorted(messages, key=lambda m: (order[m[1]], m[2].encode()))
    for venum, vname, action, d, req, conf in msgs:
        w("    {%s, %s, %s, %d, %d}," % (venum, cstr(action), d, req, conf))
    w("};")
    w("")
    w("const ocpp_schema_tables_t OCPP_SCHEMA_TABLES = {")
    w("    NODES, sizeof(NODES) / sizeof(NODES[0]), PROPS, ENUMS, MESSAGES,")
    w("    sizeof(MESSAGES) / sizeof(MESSAGES[0]),")
    w("};")
    text = "\n".join(out) + "\n"
    with open(path, "w") as fh:
        fh.write(text)


# ---- examples ---------------------------------------------------------------------------
# Error kinds as docs/ocpp-core.md ("Validation errors -> OCPP error codes") maps them (spelled
# per version by ocpp_error_code).
TYPE, OCCURRENCE, PROPERTY, FORMAT = "type", "occurrence", "property", "format"


def sample_string(node, name):
    if "enum" in node:
        return node["enum"][0]
    if node.get("format") == "date-time":
        return "2025-01-02T03:04:05.678Z"
    if node.get("format") == "uri":
        return "https://example.com/x"
    n = node.get("maxLength", 8)
    s = "x" * min(n, 8)
    return s if len(s) >= node.get("minLength", 0) else "x" * node["minLength"]


def sample(node, root, full, name=""):
    node = resolve(node, root)
    t = node.get("type")
    if t == "object":
        props = node.get("properties", {})
        req = node.get("required", [])
        keys = sorted(props) if full else [k for k in sorted(props) if k in req]
        return {k: sample(props[k], root, full, k) for k in keys}
    if t == "array":
        n = max(node.get("minItems", 1), 1)
        return [sample(node["items"], root, full, name) for _ in range(n)]
    if t == "string":
        return sample_string(node, name)
    if t == "integer":
        lo = node.get("minimum", 0)
        hi = node.get("maximum", lo + 1)
        return int(max(lo, min(hi, 1)))
    if t == "number":
        lo = node.get("minimum", 0)
        return float(max(lo, 1.5 if not node.get("multipleOf") else node["multipleOf"] * 3))
    if t == "boolean":
        return True
    if t is None:  # any JSON value
        return {"any": ["json", 1]}
    raise SystemExit("no sample for %s" % t)


def paths(node, root, value, prefix=()):
    """Every (path, schema node, parent kind) reachable in the full sample."""
    node = resolve(node, root)
    yield prefix, node
    if node.get("type") == "object":
        for k, sub in node.get("properties", {}).items():
            if k in value:
                yield from paths(sub, root, value[k], prefix + (k,))
    elif node.get("type") == "array":
        yield from paths(node["items"], root, value[0], prefix + (0,))


def put(doc, path, value, delete=False):
    doc = json.loads(json.dumps(doc))
    cur = doc
    for p in path[:-1]:
        cur = cur[p]
    if delete:
        del cur[path[-1]]
    else:
        cur[path[-1]] = value
    return doc


def pointer(path):
    return "".join("/" + str(p) for p in path)


def wrong_type(t):
    return {"string": 12, "integer": "1", "number": "1.5", "boolean": "true", "object": [],
            "array": {}}[t]


def invalid_examples(schema):
    full = sample(schema, schema, True)
    out = []
    for path, node in paths(schema, schema, full):
        t = node.get("type")
        if path and t is not None:
            out.append((put(full, path, wrong_type(t)), TYPE, pointer(path), "wrong type"))
        if t == "object":
            for r in node.get("required", []):
                out.append((put(full, path + (r,), None, delete=True), OCCURRENCE,
                            pointer(path + (r,)), "missing required"))
            if node.get("additionalProperties", True) is False:
                out.append((put(full, path + ("zzUnknownField",), 1), FORMAT,
                            pointer(path + ("zzUnknownField",)), "additional property"))
        elif t == "array" and path:
            if node.get("minItems", 0) > 0:
                out.append((put(full, path, []), OCCURRENCE, pointer(path), "too few items"))
            if "maxItems" in node:
                item = sample(node["items"], schema, False)
                out.append((put(full, path, [item] * (node["maxItems"] + 1)), OCCURRENCE,
                            pointer(path), "too many items"))
        elif t == "string" and path:
            if "enum" in node:
                out.append((put(full, path, "NotInTheEnum"), PROPERTY, pointer(path), "enum"))
            elif node.get("format") == "date-time":
                out.append((put(full, path, "2025-13-02T03:04:05Z"), PROPERTY, pointer(path),
                            "bad date-time"))
                out.append((put(full, path, "yesterday"), PROPERTY, pointer(path),
                            "bad date-time"))
            elif node.get("format") == "uri":
                out.append((put(full, path, "no scheme"), PROPERTY, pointer(path), "bad uri"))
            if "maxLength" in node and "enum" not in node:
                # code points, not bytes: a 2-byte character counts once
                ok = "\u00e9" * node["maxLength"]
                if not node.get("format") and node["maxLength"] <= 100:
                    out.append((put(full, path, ok), None, pointer(path), "maxLength code points"))
                out.append((put(full, path, "y" * (node["maxLength"] + 1)), PROPERTY,
                            pointer(path), "too long"))
        elif t in ("integer", "number") and path:
            if "minimum" in node:
                out.append((put(full, path, node["minimum"] - 1), PROPERTY, pointer(path),
                            "below minimum"))
            if "maximum" in node:
                out.append((put(full, path, node["maximum"] + 1), PROPERTY, pointer(path),
                            "above maximum"))
            if t == "integer":
                out.append((put(full, path, 1.5), TYPE, pointer(path), "fraction in integer"))
            if node.get("multipleOf"):
                out.append((put(full, path, node["multipleOf"] * 3 + node["multipleOf"] / 3),
                            PROPERTY, pointer(path), "not a multiple"))
    return full, out


def write_examples(path, raw):
    doc = {"comment": "GENERATED by scripts/gen_ocpp_schema.py from proto/ocpp; do not edit",
           "cases": []}
    for vname in ("1.6", "2.0.1"):
        for action in sorted(raw[vname]):
            for resp, schema in enumerate(raw[vname][action]):
                kind = "response" if resp else "request"
                base = {"version": vname, "action": action, "message": kind}
                minimal = sample(schema, schema, False)
                full, bad = invalid_examples(schema)
                doc["cases"].append(dict(base, payload=minimal, error=None, why="minimal"))
                doc["cases"].append(dict(base, payload=full, error=None, why="all fields"))
                for payload, err, ptr, why in bad:
                    doc["cases"].append(dict(base, payload=payload, error=err, path=ptr,
                                             why=why))
    with open(path, "w") as fh:
        json.dump(doc, fh, indent=None, sort_keys=True, separators=(",", ":"),
                  ensure_ascii=True)
        fh.write("\n")
    return len(doc["cases"])


def main():
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    tables, messages, raw = generate(sys.argv[1])
    write_c(sys.argv[2], tables, messages)
    n = write_examples(sys.argv[3], raw)
    print("gen_ocpp_schema: %d messages, %d nodes, %d properties, %d enum values, %d examples"
          % (len(messages), len(tables.nodes) - 1, len(tables.props), len(tables.enums), n),
          file=sys.stderr)


if __name__ == "__main__":
    main()
