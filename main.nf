#!/usr/bin/env nextflow
/*
 * aind-analysis-go pipeline: the two-process pipeline Code Ocean generates, for any
 * Nextflow. DISPATCH turns the input files (query, CSV, analysis_parameters.json) into
 * one folder per job; .flatten() fans the folders out to one WRAPPER task each, staged as
 * data/job_dict; every WRAPPER task's results are published to params.outdir, each job
 * under its own <hash>/ folder so parallel tasks never collide.
 *
 * Each script is one command line: the logic lives in aind-dispatch and aind-wrapper.
 * Every flag is passed on every run (empty values mean "not set"), so
 * nextflow/pipeline_test.go can check each one against the CLIs and nextflow_schema.json;
 * nextflow/nextflow_test.go runs the pipeline itself with Nextflow.
 *
 * Caching: DISPATCH always runs (cache false): what it writes depends on DocDB, which
 * Nextflow cannot see (a new asset, a job recorded since). Its job files are deterministic,
 * so with -resume a WRAPPER task whose job folder has the same content is re-used
 * (cache 'deep': by content, not by the path of DISPATCH's new work folder).
 *
 * Failures: the wrapper exits 1 when a job failed permanently (the other jobs of its task
 * ran); the task then succeeds so that its failed_ marker and error.txt are published, and
 * the run ends with an error listing the failed jobs. Exit 75 (transient) is retried by the
 * error strategy of nextflow/base.config; any other exit fails the task.
 */
nextflow.enable.dsl = 2

process DISPATCH {
    tag 'dispatch'
    label 'aind_dispatch'
    container params.tools_container
    cache false

    input:
    path input_files, stageAs: 'data/*'
    path analysis_code, stageAs: 'code'

    output:
    path 'results/*'

    script:
    """
    aind-dispatch --input_directory=data --output_directory=results --parameter_schema='${params.parameter_schema}' --parameter_overrides='${params.parameter_overrides}' --docdb_query='${params.docdb_query}' --use_data_asset_csv=${params.use_data_asset_csv} --file_extension='${params.file_extension}' --split_files=${params.split_files} --tasks_per_job=${params.tasks_per_job} --max_number_of_tasks_dispatched=${params.max_number_of_tasks_dispatched} --group_by='${params.group_by}' --filter_latest='${params.filter_latest}' --filter_by='${params.filter_by}' --unwind_list_fields='${params.unwind_list_fields}' --drop_null_groups=${params.drop_null_groups} --code_url='${params.code_url}' --code_name='${params.code_name}' --code_version='${params.code_version}'
    """

    stub:
    """
    mkdir -p results/0 && echo '{"s3_location": ["s3://stub/asset"], "docdb_record_id": ["stub"], "asset_name": ["stub"]}' > results/0/job_stub.json
    """
}

process WRAPPER {
    tag "${jobs}"
    label 'aind_wrapper'
    container params.analysis_container
    maxForks params.max_forks
    cache 'deep'
    // results/<hash>/ lands as <outdir>/<hash>/ (and the markers beside it), next to pipeline_info/.
    publishDir params.outdir, mode: 'copy', saveAs: { it.startsWith('results/') ? it.substring(8) : it }

    input:
    tuple val(jobs), path(job_files, stageAs: 'data/job_dict/*')
    path input_files, stageAs: 'data/*'
    path analysis_code, stageAs: 'code'

    output:
    path 'results/*'

    script:
    """
    aind-wrapper run --input_directory=data --output_directory=results --scratch_directory=scratch --dry_run=${params.dry_run} --parameter_schema='${params.parameter_schema}' --parameter_overrides='${params.parameter_overrides}' --output_schema='${params.output_schema}' --timeout=${params.analysis_timeout} --code_url='${params.code_url}' --code_name='${params.code_name}' --code_version='${params.code_version}' --pipeline_name='${workflow.manifest.name}' --pipeline_version='${workflow.manifest.version}' --pipeline_url='${workflow.manifest.homePage}' -- ${params.analysis_command} || { s=\$?; [ \$s -eq 1 ] || exit \$s; }
    """

    stub:
    """
    mkdir -p results/stub && echo '{}' > results/stub/metadata.nd.json
    """
}

workflow {
    if (!params.input) {
        error "Set --input: the folder holding the query (input_query.json) or asset CSV and analysis_parameters.json"
    }
    if (!params.analysis_command) {
        error "Set --analysis_command: the analysis to run for each job, e.g. 'python code/analyse.py'"
    }
    input_files = Channel.fromPath("${params.input}/*", type: 'any').collect()
    analysis_code = file(params.analysis_code ?: "${projectDir}/nextflow/assets/no_analysis_code", checkIfExists: true)

    // The dispatcher writes task folders 0, 1, ...; with nothing to do it writes only
    // NO_JOBS.txt, which is not a folder: no wrapper task runs and the pipeline ends cleanly.
    // Each folder's job files (not the folder) are the task's input, so -resume compares
    // their content (a folder's deep hash includes where DISPATCH wrote it). The task's tag
    // names its first job and how many more it runs: "job_0b2a... +19".
    job_folders = DISPATCH(input_files, analysis_code).flatten().filter { it.isDirectory() }
        .map { dir -> dir.listFiles().toList().sort { it.name } }
        .map { files -> [(files[0].name - ~/\.json$/) + (files.size() > 1 ? " +${files.size() - 1}" : ''), files] }
    results = WRAPPER(job_folders, input_files, analysis_code)

    results.flatten().filter { it.name.startsWith('failed_') }.map { it.name }.collect().subscribe { failed ->
        error("${failed.size()} job(s) failed: ${failed.join(', ')}; their error.txt and analysis.log are in ${params.outdir}/")
    }
}

// Nextflow's run summary, on every run (its own appears only on a terminal).
workflow.onComplete {
    def s = workflow.stats
    log.info "Pipeline ${workflow.success ? 'completed' : 'FAILED'} in ${workflow.duration}: ${s.succeedCount} tasks succeeded, ${s.cachedCount} cached, ${s.failedCount} failed, ${s.ignoredCount} ignored; results in ${params.outdir}"
}
