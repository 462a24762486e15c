#!/bin/sh
# Demo analysis for aind-wrapper's command mode: reads the job and its parameters from the
# AIND_* files, writes a small report into the result folder and its output values to
# $AIND_OUTPUTS_FILE. Any program can take its place.
set -eu
assets=$(sed -n '/^    "s3_location": \[/,/^    \]/p' "$AIND_JOB_FILE" | grep -c '"s3://' || true)
files=$(sed -n '/^    "file_location": \[/,/^    \]/p' "$AIND_JOB_FILE" | grep -c '"s3://' || true)
label=$(sed -n 's/.*"label": *"\([^"]*\)".*/\1/p' "$AIND_PARAMETERS_FILE")
{
  echo "job:        $AIND_JOB_HASH"
  echo "label:      $label"
  echo "assets:     $assets"
  echo "nwb files:  $files"
} > "$AIND_OUTPUT_DIR/report.txt"
echo "counted $files files"
printf '{"n_files": %s}\n' "$files" > "$AIND_OUTPUTS_FILE"
