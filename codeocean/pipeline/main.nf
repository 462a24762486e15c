#!/usr/bin/env nextflow
// The pipeline Code Ocean generates for the two capsules of codeocean/ (a dispatcher and an
// analysis wrapper), in the form of Code Ocean's generated main.nf: each process runs the
// capsule's code/run in a capsule/ folder with data/, results/ and scratch/, the dispatcher's
// results flattened to one wrapper task per job folder (staged as
// capsule/data/job_dict), the wrappers' results published. It runs on any Nextflow with the
// local executor; where Code Ocean's own differs, the line says LOCAL:
//  - Code Ocean links capsule/data, results and scratch to /data, /results and /scratch in
//    the capsule's container; here INPUT_DIRECTORY, OUTPUT_DIRECTORY and SCRATCH_DIRECTORY
//    point the binaries at them (they read both);
//  - Code Ocean clones the capsule's git repository for code/; here it is copied from
//    params.capsules;
//  - results are published by copy to params.outdir (Code Ocean: $RESULTS_PATH).
// tests: nextflow/codeocean_test.go (TestCodeOceanGeneratedPipeline).

// Parameters: nextflow.config beside this file (Code Ocean's holds each capsule's arguments too).

// capsule - aind-analysis-dispatcher
process capsule_aind_analysis_dispatcher_1 {
	tag 'capsule-dispatcher'
	cpus 1
	memory '7.5 GB'

	input:
	path 'capsule/data/*'

	output:
	path 'capsule/results/*', emit: to_capsule_aind_analysis_wrapper_2_1

	script:
	"""
	#!/usr/bin/env bash
	set -e

	export CO_CAPSULE_ID=${params.dispatcher_capsule_id}
	export CO_CPUS=1
	export CO_MEMORY=8053063680

	mkdir -p capsule
	mkdir -p capsule/data && export INPUT_DIRECTORY=\$PWD/capsule/data # LOCAL: ln -s \$PWD/capsule/data /data
	mkdir -p capsule/results && export OUTPUT_DIRECTORY=\$PWD/capsule/results # LOCAL: ln -s \$PWD/capsule/results /results
	mkdir -p capsule/scratch && export SCRATCH_DIRECTORY=\$PWD/capsule/scratch # LOCAL: ln -s \$PWD/capsule/scratch /scratch

	echo "[${task.tag}] copying the capsule's code..." # LOCAL: git clone of the capsule
	cp -R "${params.capsules}/dispatcher/code" capsule/code

	echo "[${task.tag}] running capsule..."
	cd capsule/code
	chmod +x run
	./run ${params.capsule_aind_analysis_dispatcher_1_args}

	echo "[${task.tag}] completed!"
	"""
}

// capsule - aind-analysis-wrapper
process capsule_aind_analysis_wrapper_2 {
	tag 'capsule-wrapper'
	cpus 1
	memory '7.5 GB'

	publishDir params.outdir, mode: 'copy', saveAs: { filename -> new File(filename).getName() }

	input:
	path 'capsule/data/job_dict'
	path 'capsule/data/*'

	output:
	path 'capsule/results/*'

	script:
	"""
	#!/usr/bin/env bash
	set -e

	export CO_CAPSULE_ID=${params.wrapper_capsule_id}
	export CO_CPUS=1
	export CO_MEMORY=8053063680

	mkdir -p capsule
	mkdir -p capsule/data && export INPUT_DIRECTORY=\$PWD/capsule/data # LOCAL: ln -s \$PWD/capsule/data /data
	mkdir -p capsule/results && export OUTPUT_DIRECTORY=\$PWD/capsule/results # LOCAL: ln -s \$PWD/capsule/results /results
	mkdir -p capsule/scratch && export SCRATCH_DIRECTORY=\$PWD/capsule/scratch # LOCAL: ln -s \$PWD/capsule/scratch /scratch

	echo "[${task.tag}] copying the capsule's code..." # LOCAL: git clone of the capsule
	cp -R "${params.capsules}/wrapper/code" capsule/code

	echo "[${task.tag}] running capsule..."
	cd capsule/code
	chmod +x run
	./run ${params.capsule_aind_analysis_wrapper_2_args}

	echo "[${task.tag}] completed!"
	"""
}

workflow {
	// input data
	input_files = Channel.fromPath("${params.input}/*", type: 'any').collect()

	// run processes
	capsule_aind_analysis_dispatcher_1(input_files)
	capsule_aind_analysis_wrapper_2(capsule_aind_analysis_dispatcher_1.out.to_capsule_aind_analysis_wrapper_2_1.flatten(), input_files)
}
