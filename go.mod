module github.com/cryolock-go/cryolock

go 1.24.0

require (
	github.com/gofrs/flock v0.12.1
	github.com/hanwen/go-fuse/v2 v2.12.1
	github.com/spf13/cobra v1.10.1
	github.com/spf13/pflag v1.0.9
	golang.org/x/sys v0.38.0
	golang.org/x/term v0.37.0
	pgregory.net/rapid v1.2.0
)

require github.com/inconshreveable/mousetrap v1.1.0 // indirect
