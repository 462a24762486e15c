"""Runs analysis-pipeline-utils' own dispatcher functions against the devstack.

Usage: python dispatch_upstream.py CONFIG.json

CONFIG: {"input_directory", "output_directory", "use_data_asset_csv", "docdb_query",
"group_by", "filter_latest", "filter_by", "unwind_list_fields", "drop_null_groups",
"file_extension", "split_files", "tasks_per_job", "max_number_of_tasks_dispatched",
"database", "collection"}. Environment: DOCDB_HOST (host:port of the devstack's gateway),
DOCDB_VERSION, AWS_ENDPOINT_URL_S3 and the AWS keys.

What runs is upstream's code, in the order its dispatcher capsule calls it:
get_data_asset_records (CSV or query, query_data_assets' aggregation pipeline),
expand_task_list (s3fs glob per asset, split or kept together, the parameter sweep from
analysis_parameters.json) and write_input_model_list (task folders, uuid4 names, the cap).
check_task_parameters is not run: it needs the Code Ocean API (CODEOCEAN_API_TOKEN and a
computation) to build the Code block. Three adaptations, all below the upstream code:

1. MetadataDbClient builds https:// URLs; the devstack gateway is plain HTTP on loopback, so
   requests to DOCDB_HOST go over http (same host, path, query and SigV4 headers).
2. The upstream client reads the default database/collection; the harness points it at
   CONFIG's database and collection.
3. FerretDB v1 implements neither $push/$first in $group, $cond, nor array expressions in
   $project, so the gateway cannot run upstream's pipeline. The client's aggregate reads the
   collection through the real gateway (MetadataDbClient.retrieve_docdb_records, paged) and
   evaluates upstream's unchanged pipeline with aggregate.py (MongoDB's documented semantics
   for exactly the stages query_data_assets builds; $match by mongomock's query matcher).
"""

import json
import os
import sys
from pathlib import Path

import requests

_orig_request = requests.Session.request


def _http_request(self, method, url, *args, **kwargs):
    host = os.environ.get("DOCDB_HOST", "")
    if host and url.startswith("https://" + host):
        url = "http://" + url[len("https://"):]
    return _orig_request(self, method, url, *args, **kwargs)


requests.Session.request = _http_request

from aind_data_access_api.document_db import MetadataDbClient  # noqa: E402
from analysis_pipeline_utils import utils_analysis_dispatch as upstream  # noqa: E402

import aggregate  # noqa: E402


def main(config_path):
    with open(config_path, encoding="utf-8") as f:
        cfg = json.load(f)

    def client():
        return MetadataDbClient(
            host=os.environ["DOCDB_HOST"], version=os.getenv("DOCDB_VERSION", "v1"),
            database=cfg["database"], collection=cfg["collection"],
        )

    upstream._docdb_api_client = client

    def evaluate(self, pipeline):
        return aggregate.run(self.retrieve_docdb_records(), pipeline)

    MetadataDbClient.aggregate_docdb_records = evaluate

    input_dir = Path(cfg["input_directory"])
    query_args = {k: cfg[k] for k in ("group_by", "filter_latest", "filter_by", "unwind_list_fields") if cfg.get(k)}
    query_args["drop_null_groups"] = cfg.get("drop_null_groups", True)
    records = upstream.get_data_asset_records(
        input_directory=input_dir,
        use_data_asset_csv=cfg.get("use_data_asset_csv", False),
        docdb_query=cfg.get("docdb_query"),
        **query_args,
    )
    distributed = None
    params_file = input_dir / "analysis_parameters.json"
    if params_file.exists():
        distributed = json.loads(params_file.read_text()).get("distributed_parameters")
    tasks = upstream.expand_task_list(
        records,
        file_extension=cfg.get("file_extension", ""),
        split_files=cfg.get("split_files", True),
        distributed_analysis_parameters=distributed,
    )
    upstream.write_input_model_list(
        tasks,
        Path(cfg["output_directory"]),
        tasks_per_job=cfg.get("tasks_per_job", 1),
        max_number_of_tasks_dispatched=cfg.get("max_number_of_tasks_dispatched", 1000),
    )


if __name__ == "__main__":
    main(sys.argv[1])
