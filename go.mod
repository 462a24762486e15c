module github.com/allenneuraldynamics/aind-analysis-go

go 1.26.0

require (
	github.com/gowebpki/jcs v1.0.2
	github.com/rs/zerolog v1.35.1
	golang.org/x/term v0.47.0
)

require (
	github.com/mattn/go-colorable v0.1.14 // indirect
	github.com/mattn/go-isatty v0.0.20 // indirect
	golang.org/x/sys v0.49.0 // indirect
)
