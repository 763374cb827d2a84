"""JSON for the deploy steps, so they need neither jq nor anything beyond Python's standard library.

json_tool.py same A B                  exit 0 when A and B hold the same JSON value
json_tool.py object NAME=VALUE...      a JSON object of strings
json_tool.py render FILE               ${NAME} placeholders filled from the environment
json_tool.py diff-attrs CURRENT WANT   the entries of WANT that CURRENT lacks or differs in
json_tool.py merge-rules CURRENT WANT [KEY]  lifecycle (or, KEY=CORSRules, CORS) rules: WANT's
                                       rules replace those with the same ID, other rules are
                                       kept; printed as {KEY: rules}, KEY defaults to Rules
json_tool.py without-rule RULES ID     the list RULES without the rule whose ID is ID
json_tool.py strings VALUE...          a JSON list of strings
json_tool.py merge-statements CURRENT WANT  a policy: WANT's statements replace those with
                                       the same Sid, other statements are kept
json_tool.py with-key OBJECT KEY VALUE OBJECT with KEY set to the JSON VALUE
json_tool.py pick OBJECT KEY           OBJECT's KEY: a string as it is, anything else as JSON
json_tool.py without OBJECT KEY...     OBJECT without these keys
json_tool.py extra-ids CURRENT WANT    the Ids of CURRENT's items that WANT lacks
json_tool.py statement-source POLICY SID  the aws:SourceArn condition of statement SID
json_tool.py ingress-diff CURRENT WANT security group rules to authorize and to revoke
json_tool.py covers CURRENT WANT       exit 0 when CURRENT holds every value WANT sets (AWS
                                       adds defaults and read-only fields to what it returns)
json_tool.py items LIST                each item of a JSON list, one compact line each
json_tool.py statements-without-scope POLICY  statements whose Resource is "*" without an
                                       "AnyResource" Sid (the policies' own lint)
json_tool.py items ARRAY               each item of ARRAY as compact JSON, one per line
json_tool.py table-shape TABLE         what a DynamoDB table's CreateTable arguments (or its
                                       DescribeTable) say of its keys, indexes and billing
"""

from __future__ import annotations

import json
import os
import string
import sys
from pathlib import Path
from typing import Any

__all__ = [
    "covers",
    "diff_attrs",
    "ingress_diff",
    "main",
    "merge_rules",
    "merge_statements",
    "same",
    "statement_source",
    "table_shape",
]


def _load(text: str) -> Any:
    return json.loads(text) if text.strip() else None


def _normal(value: Any) -> Any:
    """Strings holding JSON (SQS's Policy, RedrivePolicy) or digits compare by value."""
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return _normal(json.loads(value))
        except json.JSONDecodeError:
            return value
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return value


def same(a: str, b: str) -> bool:
    try:
        return bool(_normal(_load(a)) == _normal(_load(b)))
    except json.JSONDecodeError:
        return False


def covers(current: Any, want: Any) -> bool:
    """Every key WANT sets has the same value in CURRENT (recursively; lists item by item)."""
    if isinstance(want, dict):
        return isinstance(current, dict) and all(
            k in current and covers(current[k], v) for k, v in want.items()
        )
    if isinstance(want, list):
        return (
            isinstance(current, list)
            and len(current) == len(want)
            and all(covers(c, w) for c, w in zip(current, want, strict=True))
        )
    return bool(_normal(current) == _normal(want))


def render(path: Path) -> str:
    text = path.read_text()
    try:
        rendered = string.Template(text).substitute(os.environ)
    except KeyError as error:
        raise SystemExit(f"{path}: ${{{error.args[0]}}} is not set") from None
    if path.suffix == ".json":
        return json.dumps(json.loads(rendered), separators=(",", ":"))
    return rendered


def diff_attrs(current: dict[str, Any], want: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in want.items() if _normal(current.get(k)) != _normal(v)}


def merge_rules(
    current: list[dict[str, Any]], want: list[dict[str, Any]], key: str = "Rules"
) -> dict[str, Any]:
    ours = {rule["ID"] for rule in want}
    return {key: [r for r in current if r.get("ID") not in ours] + want}


def merge_statements(current: dict[str, Any], want: dict[str, Any]) -> dict[str, Any]:
    ours = {statement["Sid"] for statement in want["Statement"]}
    kept = [s for s in current.get("Statement", []) if s.get("Sid") not in ours]
    return {**current, "Version": want["Version"], "Statement": kept + want["Statement"]}


def _flatten(permissions: list[dict[str, Any]]) -> set[tuple[str, int, int, str, str]]:
    rules = set()
    for p in permissions:
        head = (str(p.get("IpProtocol")), int(p.get("FromPort", -1)), int(p.get("ToPort", -1)))
        for r in p.get("IpRanges", []):
            rules.add((*head, "cidr", r["CidrIp"]))
        for r in p.get("Ipv6Ranges", []):
            rules.add((*head, "cidr6", r["CidrIpv6"]))
        for r in p.get("UserIdGroupPairs", []):
            rules.add((*head, "group", r["GroupId"]))
    return rules


def _permission(rule: tuple[str, int, int, str, str]) -> dict[str, Any]:
    protocol, start, end, kind, source = rule
    key, item = {
        "cidr": ("IpRanges", {"CidrIp": source}),
        "cidr6": ("Ipv6Ranges", {"CidrIpv6": source}),
        "group": ("UserIdGroupPairs", {"GroupId": source}),
    }[kind]
    return {"IpProtocol": protocol, "FromPort": start, "ToPort": end, key: [item]}


def ingress_diff(current: list[dict[str, Any]], want: list[dict[str, Any]]) -> dict[str, Any]:
    have, need = _flatten(current), _flatten(want)
    return {
        "authorize": [_permission(r) for r in sorted(need - have)],
        "revoke": [_permission(r) for r in sorted(have - need)],
    }


def statements_without_scope(policy: dict[str, Any]) -> list[dict[str, Any]]:
    bad = []
    for statement in policy.get("Statement", []):
        resources = statement.get("Resource", [])
        resources = [resources] if isinstance(resources, str) else resources
        if "*" in resources and not str(statement.get("Sid", "")).endswith("AnyResource"):
            bad.append(statement)
    return bad


def statement_source(policy: dict[str, Any], sid: str) -> str:
    for statement in policy.get("Statement", []):
        if statement.get("Sid") == sid:
            conditions = statement.get("Condition", {}).get("ArnLike", {})
            return str(conditions.get("AWS:SourceArn", conditions.get("aws:SourceArn", "")))
    return ""


def table_shape(table: dict[str, Any]) -> dict[str, Any]:
    """The parts of a table that the jobs tables' definitions fix, in one order: from the
    ``CreateTable`` arguments or from ``DescribeTable``'s ``Table`` (which reports the billing
    mode in ``BillingModeSummary``, and indexes with status fields that are left out)."""
    billing = table.get("BillingMode") or (table.get("BillingModeSummary") or {}).get(
        "BillingMode", "PROVISIONED"
    )
    indexes = [
        {k: index.get(k) for k in ("IndexName", "KeySchema", "Projection")}
        for index in table.get("GlobalSecondaryIndexes") or []
    ]
    return {
        "AttributeDefinitions": sorted(
            table.get("AttributeDefinitions") or [], key=lambda a: a["AttributeName"]
        ),
        "KeySchema": table.get("KeySchema") or [],
        "BillingMode": billing,
        "GlobalSecondaryIndexes": sorted(indexes, key=lambda i: str(i["IndexName"])),
    }


def _dump(value: Any) -> None:
    sys.stdout.write(json.dumps(value, separators=(",", ":")) + "\n")


def main(argv: list[str]) -> int:
    command, *args = argv
    if command == "same":
        return 0 if same(args[0], args[1]) else 1
    if command == "covers":
        return 0 if covers(_load(args[0]), _load(args[1])) else 1
    if command == "items":
        for item in _load(args[0]) or []:
            _dump(item)
        return 0
    if command == "object":
        _dump(dict(arg.split("=", 1) for arg in args))
    elif command == "render":
        sys.stdout.write(render(Path(args[0])) + "\n")
    elif command == "diff-attrs":
        _dump(diff_attrs(_load(args[0]) or {}, _load(args[1])))
    elif command == "merge-rules":
        _dump(merge_rules(_load(args[0]) or [], _load(args[1]), *args[2:]))
    elif command == "without-rule":
        _dump([rule for rule in _load(args[0]) or [] if rule.get("ID") != args[1]])
    elif command == "strings":
        _dump(list(args))
    elif command == "merge-statements":
        _dump(merge_statements(_load(args[0]) or {}, _load(args[1])))
    elif command == "with-key":
        _dump({**(_load(args[0]) or {}), args[1]: _load(args[2])})
    elif command == "pick":
        value = (_load(args[0]) or {}).get(args[1])
        sys.stdout.write((value if isinstance(value, str) else json.dumps(value)) + "\n")
    elif command == "without":
        _dump({k: v for k, v in (_load(args[0]) or {}).items() if k not in args[1:]})
    elif command == "select":
        items = [i for i in _load(args[0]) or [] if str(i.get(args[1])) == args[2]]
        value = items[0].get(args[3]) if items else ""
        sys.stdout.write((value if isinstance(value, str) else json.dumps(value)) + "\n")
    elif command == "extra-ids":
        wanted = {item["Id"] for item in _load(args[1]) or []}
        extra = [item["Id"] for item in _load(args[0]) or [] if item["Id"] not in wanted]
        sys.stdout.write(" ".join(extra) + "\n")
    elif command == "statement-source":
        sys.stdout.write(statement_source(_load(args[0]) or {}, args[1]) + "\n")
    elif command == "ingress-diff":
        _dump(ingress_diff(_load(args[0]) or [], _load(args[1])))
    elif command == "items":
        for item in _load(args[0]):
            _dump(item)
    elif command == "table-shape":
        _dump(table_shape(_load(args[0])))
    elif command == "statements-without-scope":
        _dump(statements_without_scope(_load(args[0])))
    else:
        raise SystemExit(f"unknown command {command!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
