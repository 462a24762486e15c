// Parses Nextflow files as Groovy (syntax only, up to the CONVERSION phase: no class
// resolution, so Nextflow's DSL names need not exist). Exits 1 on the first file that
// does not parse, printing the compiler's message.
import org.codehaus.groovy.control.CompilationUnit
import org.codehaus.groovy.control.Phases
import org.codehaus.groovy.control.MultipleCompilationErrorsException

int failed = 0
args.each { path ->
    def unit = new CompilationUnit()
    unit.addSource(new File(path))
    try {
        unit.compile(Phases.CONVERSION)
        println "groovy syntax ok: ${path}"
    } catch (MultipleCompilationErrorsException e) {
        failed++
        System.err.println("groovy syntax error in ${path}:\n${e.message}")
    }
}
System.exit(failed ? 1 : 0)
