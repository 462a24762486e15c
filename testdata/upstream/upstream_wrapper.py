"""Records results the way analysis-pipeline-utils' wrapper does, into the devstack.

Usage: python upstream_wrapper.py CONFIG.json

CONFIG: {"jobs": [job file paths], "parameters": {...} (the app panel's parameters),
"code": {"url", "name", "version", "run_script"}, "bucket": "name[/prefix]",
"results": "local folder", "outputs": {...}}. Environment: DOCDB_HOST (host:port of the
gateway), DOCDB_DATABASE, DOCDB_COLLECTION, AWS_ENDPOINT_URL_S3 and the AWS keys.

For each job it runs upstream's code as run_analysis_jobs does: update_analysis_process on
the base process, analysis_pipeline_processing_metadata, create_results_metadata (its hash,
processing_prefix, is the _id), copy_results_to_s3 and write_to_docdb (MetadataDbClient
insert, signed, through the gateway). Two things are not upstream's: the base process is
built here (get_codeocean_process_metadata needs the Code Ocean API) with the fields it
sets, and the results folder is CONFIG's (upstream hard-codes /results). Prints one line
per job: {"job", "hash", "location"}.
"""

import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

import requests

_orig_request = requests.Session.request


def _http_request(self, method, url, *args, **kwargs):
    host = os.environ.get("DOCDB_HOST", "")
    if host and url.startswith("https://" + host):
        url = "http://" + url[len("https://"):]
    return _orig_request(self, method, url, *args, **kwargs)


requests.Session.request = _http_request

import aind_data_schema.core.processing as ps  # noqa: E402
from aind_data_schema.base import GenericModel  # noqa: E402
from analysis_pipeline_utils import metadata as md  # noqa: E402
from analysis_pipeline_utils import result_files  # noqa: E402
from analysis_pipeline_utils.analysis_dispatch_model import AnalysisDispatchModel  # noqa: E402


def main(config_path):
    cfg = json.loads(Path(config_path).read_text())
    now = datetime.now(timezone.utc)
    code = cfg["code"]
    base = ps.DataProcess.model_construct(
        experimenters=["someone@example.org"],
        process_type=ps.ProcessName.ANALYSIS,
        stage=ps.ProcessStage.ANALYSIS,
        start_date_time=now,
        end_date_time=now,
        name=code["name"],
    )
    base.code = ps.Code(name=code["name"], url=code["url"], version=code["version"],
                        run_script=code["run_script"], parameters={}, input_data=[])
    base = base.model_validate(base)
    base.code.parameters = GenericModel()  # as run_analysis_jobs does
    processing = md.analysis_pipeline_processing_metadata(base)
    for job in cfg["jobs"]:
        inputs = AnalysisDispatchModel.model_validate_json(Path(job).read_text())
        process = md.update_analysis_process(base, inputs, **cfg["parameters"])
        processing.data_processes = [process]
        process.output_parameters = GenericModel(**cfg["outputs"])
        if md.docdb_record_exists(process.code):
            print(json.dumps({"job": job, "skipped": True}), flush=True)
            continue
        metadata, docdb_id = result_files.create_results_metadata(processing, cfg["bucket"])
        results = Path(cfg["results"]) / docdb_id
        results.mkdir(parents=True)
        (results / "metadata.nd.json").write_text(metadata.model_dump_json(indent=2))
        (results / "result.txt").write_text("computed by the upstream wrapper\n")
        result_files.copy_results_to_s3(metadata, results_path=str(results))
        md.write_to_docdb(metadata, docdb_id)
        print(json.dumps({"job": job, "hash": docdb_id, "location": metadata.location}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
