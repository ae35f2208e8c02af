module github.com/cryolock-go/cryolock

go 1.24.13

require golang.org/x/sys v0.38.0
