// Package nextflow holds the checks that keep the pipeline (main.nf, nextflow.config,
// nextflow_schema.json) honest where Nextflow itself cannot run: every command line in the
// process scripts parses with the real aind-* command lines, every param is documented in
// the schema and declared with the same default, and a smoke run executes the pipeline's
// steps in the built images, staging folders as Nextflow does. It has no exported code.
package nextflow
