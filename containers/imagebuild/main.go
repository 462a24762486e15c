// Command imagebuild builds and checks the aind container images without a container
// engine: it packs directory trees into byte-reproducible layers (sorted, owner 0:0, mtime
// 0), stacks them FROM scratch with go-containerregistry, sets the config (env, entrypoint,
// cmd, OCI labels) and writes each image as a docker-archive tarball that `podman load` and
// `docker load` read. containers/build assembles the trees and calls it; containers/check
// calls its check subcommand, which asserts the images' files, modes, links, static
// binaries, config and sizes from the tarballs alone.
//
// Usage:
//
//	imagebuild build  -out dist/images -version V -revision R -arch A -tools-base DIR -tools-bin DIR -wrapper-certs DIR -wrapper-bin DIR [labels]
//	imagebuild check  -dir dist/images [-version V] [-max-size-mb 40] [-exec=false]
//	imagebuild dropin -dir dist/images [-out FILE] [-tag T]
//
// Run `imagebuild <subcommand> -h` for every flag.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "build":
		err = runBuild(os.Args[2:])
	case "check":
		err = runCheck(os.Args[2:])
	case "dropin":
		err = runDropin(os.Args[2:])
	case "-h", "--help", "help":
		usage()
		return
	default:
		usage()
		os.Exit(2)
	}
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "imagebuild %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: imagebuild {build|check|dropin} [flags]  (imagebuild <subcommand> -h for its flags)")
}
