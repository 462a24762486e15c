#!/usr/bin/env python3
"""Example analysis in Python, run by aind-wrapper in command mode (standard library only).

The wrapper runs `python3 analyse.py` once per job with:
  AIND_JOB_FILE         the job: its assets (s3_location, asset_name) and files (file_location)
  AIND_PARAMETERS_FILE  the merged, defaulted and validated parameters (a JSON object)
  AIND_OUTPUT_DIR       this job's result folder: everything written here is published
  AIND_OUTPUTS_FILE     where to write the output values (a JSON object, checked by the
                        output schema and stored in the result record)
Its stdout and stderr go to analysis.log; a non-zero exit fails the job (75: retry it).
Copy this file and parameters.py to start your own analysis.
"""

import csv
import json
import os
import sys
from collections import Counter


def analyse(job, params):
    """Count each asset's files and flag the sparse ones: the analysis proper."""
    assets = job.get("s3_location") or []
    names = job.get("asset_name") or [a.rstrip("/").rsplit("/", 1)[-1] for a in assets]
    files = job.get("file_location") or []
    per_asset = Counter()
    for f in files:
        for location, name in zip(assets, names):
            if f.startswith(location.rstrip("/") + "/"):
                per_asset[name] += 1
    rows = [{"asset": n, "files": per_asset[n], "sparse": per_asset[n] < params["min_files"]} for n in names]
    outputs = {
        "label": params["label"],
        "n_assets": len(assets),
        "n_files": len(files),
        "n_sparse_assets": sum(r["sparse"] for r in rows),
        "subject_id": (job.get("group_metadata") or {}).get("subject__subject_id", ""),
    }
    return rows, outputs


def main():
    with open(os.environ["AIND_JOB_FILE"]) as f:
        job = json.load(f)
    with open(os.environ["AIND_PARAMETERS_FILE"]) as f:
        params = json.load(f)
    rows, outputs = analyse(job, params)

    out_dir = os.environ["AIND_OUTPUT_DIR"]
    with open(os.path.join(out_dir, "files_per_asset.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["asset", "files", "sparse"])
        w.writeheader()
        w.writerows(rows)
    with open(os.environ["AIND_OUTPUTS_FILE"], "w") as f:
        json.dump(outputs, f)
    print(f"{outputs['n_files']} files in {outputs['n_assets']} assets, {outputs['n_sparse_assets']} sparse")
    return 0


if __name__ == "__main__":
    sys.exit(main())
