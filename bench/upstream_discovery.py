"""The upstream file discovery, as users run it: analysis-pipeline-utils'
get_asset_file_path_records (an s3fs glob of s3://<asset>/**/*<ext> per asset, one asset
after the other, as expand_task_list calls it) over the bench's assets, with one job model
per file (split_files=True).

Usage: python upstream_discovery.py BUCKET ASSETS EXTENSION

S3 is AWS_ENDPOINT_URL_S3 (versitygw, or the latency proxy in front of it) with the AWS
keys. Prints "<assets> assets, <jobs> jobs, <files> files".
"""

import sys

from analysis_pipeline_utils import utils_analysis_dispatch as upstream
from analysis_pipeline_utils.analysis_dispatch_model import AnalysisDispatchModel


def main(bucket, assets, ext):
    jobs = files = 0
    for i in range(1, int(assets) + 1):
        name = f"bench-{i:06d}"
        record = AnalysisDispatchModel(s3_location=[f"s3://{bucket}/{name}"], asset_name=[name],
                                       docdb_record_id=[name])
        models = upstream.get_asset_file_path_records(record, ext, split_files=True)
        jobs += len(models)
        files += sum(len(m.file_location) for m in models)
    print(f"{assets} assets, {jobs} jobs, {files} files")


if __name__ == "__main__":
    main(*sys.argv[1:4])
