"""Runs aind-data-access-api's MetadataDbClient against the devstack's DocDB gateway.

Usage: python gateway_ops.py CONFIG.json

CONFIG: {"database", "read": {"collection", "filter", "projection", "limit",
"pipeline"} | null, "payload": {"collection"} | null, "write": {"collection", "ops":
[{"op": "insert", "record"} | {"op": "upsert", "record"} | {"op": "upsert_list",
"records"} | {"op": "delete_one", "id"} | {"op": "delete_many", "ids"}]} | null}.
Environment: DOCDB_HOST (host:port of the gateway), DOCDB_VERSION, AWS_DEFAULT_REGION and
the AWS keys (writes are signed).

Every call is the client's method as users call it (retrieve_docdb_records,
_count_records, _get_records (SchemaDbClient's read), aggregate_docdb_records, insert_one_docdb_record,
upsert_one_docdb_record, upsert_list_of_docdb_records, delete_one_record,
delete_many_records). One adaptation: the client builds https:// URLs and the devstack
gateway is plain HTTP on loopback, so requests to DOCDB_HOST go over http (same host, path,
query and SigV4 headers). Prints one JSON object: what each call returned, the HTTP status
and body of every write, and how many find requests each read took.
"""

import json
import os
import sys
from collections import Counter

import requests

_orig_request = requests.Session.request
REQUESTS = Counter()


def _http_request(self, method, url, *args, **kwargs):
    host = os.environ.get("DOCDB_HOST", "")
    if host and url.startswith("https://" + host):
        url = "http://" + url[len("https://"):]
    REQUESTS[url.split("?")[0].rsplit("/", 1)[-1]] += 1
    return _orig_request(self, method, url, *args, **kwargs)


requests.Session.request = _http_request

from aind_data_access_api.document_db import MetadataDbClient  # noqa: E402


def client(database, collection):
    return MetadataDbClient(host=os.environ["DOCDB_HOST"], database=database,
                            collection=collection, version=os.getenv("DOCDB_VERSION", "v1"))


def finds(fn):
    """Runs fn and returns (its result, the find requests it sent)."""
    before = REQUESTS["find"]
    out = fn()
    return out, REQUESTS["find"] - before


def reply(resp):
    try:
        body = resp.json()
    except ValueError:
        body = resp.text
    return {"status": resp.status_code, "body": body}


def read(db, cfg):
    c = client(db, cfg["collection"])
    out = {}
    out["all"], out["all_requests"] = finds(lambda: c.retrieve_docdb_records())
    out["filtered"], out["filtered_requests"] = finds(lambda: c.retrieve_docdb_records(
        filter_query=cfg["filter"], projection=cfg["projection"]))
    out["limited"], out["limited_requests"] = finds(lambda: c.retrieve_docdb_records(
        filter_query=cfg["filter"], sort={"_id": 1}, limit=cfg["limit"]))
    out["count_all"] = c._count_records()
    out["count_filtered"] = c._count_records(filter_query=cfg["filter"])
    out["aggregate"] = c.aggregate_docdb_records(pipeline=cfg["pipeline"])
    out["get_records"] = c._get_records(filter_query=cfg["filter"])
    return out


def payload(db, cfg):
    c = client(db, cfg["collection"])
    try:
        docs, n = finds(lambda: c.retrieve_docdb_records(projection={"_id": 1, "i": 1}))
        big, nbig = finds(lambda: c.retrieve_docdb_records())
    except requests.HTTPError as e:
        return {"error": str(e), "status": e.response.status_code}
    try:
        c._get_records()
        whole = 200
    except requests.HTTPError as e:
        whole = e.response.status_code
    return {"ids": [d["_id"] for d in big], "requests": nbig, "small_ids": len(docs),
            "small_requests": n, "get_records_status": whole}


def write(db, cfg):
    c = client(db, cfg["collection"])
    out = []
    for op in cfg["ops"]:
        kind = op["op"]
        if kind == "insert":
            out.append(reply(c.insert_one_docdb_record(op["record"])))
        elif kind == "upsert":
            out.append(reply(c.upsert_one_docdb_record(op["record"])))
        elif kind == "upsert_list":
            out.append([reply(r) for r in c.upsert_list_of_docdb_records(op["records"])])
        elif kind == "delete_one":
            out.append(reply(c.delete_one_record(op["id"])))
        elif kind == "delete_many":
            out.append(reply(c.delete_many_records(op["ids"])))
        else:
            raise ValueError(f"unknown op {kind!r}")
    return out


def main(config_path):
    with open(config_path, encoding="utf-8") as f:
        cfg = json.load(f)
    db = cfg["database"]
    out = {}
    if cfg.get("read"):
        out["read"] = read(db, cfg["read"])
    if cfg.get("payload"):
        out["payload"] = payload(db, cfg["payload"])
    if cfg.get("write"):
        try:
            out["write"] = write(db, cfg["write"])
        except requests.HTTPError as e:
            out["write_error"] = {"error": str(e), "status": e.response.status_code, "body": e.response.text}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
