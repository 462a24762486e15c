#!/usr/bin/env nextflow
/*
 * N trivial tasks through Nextflow, to measure what the JVM keeps for them (bench/nextflow-heap/run).
 * params.mode: 'exec' (an exec: block, run in the JVM: no process, no .command.sh), or
 * 'script' (script: 'true', a real task: work folder, .command.* files, one bash process).
 * Either way Nextflow makes a TaskRun per task, hashes it and writes it to the cache DB.
 * At the end (workflow.onComplete, observers still alive) the JVM runs a full GC and prints
 * the heap still in use: what the run holds for N tasks, not garbage.
 */
nextflow.enable.dsl = 2

params.n    = 1000
params.mode = 'exec'

process EXEC_TASK {
    tag "${i}"
    input:
    val i
    output:
    val i
    exec:
    def x = i * 2
}

process SCRIPT_TASK {
    tag "${i}"
    input:
    val i
    output:
    val i
    script:
    'true'
}

workflow {
    def items = Channel.of(1..(params.n as int))
    def done = params.mode == 'script' ? SCRIPT_TASK(items) : EXEC_TASK(items)
    done.count().view { "tasks done: ${it}" }
}

workflow.onComplete {
    def mem = java.lang.management.ManagementFactory.memoryMXBean
    // Two full collections (with the serial or G1 collector System.gc() is a full GC), so what
    // remains is live.
    System.gc(); sleep(200); System.gc()
    def used = mem.heapMemoryUsage.used
    def max  = mem.heapMemoryUsage.max
    log.info "HEAP_AFTER_FULL_GC used_bytes=${used} max_bytes=${max} tasks=${workflow.stats.succeedCount}"
}
