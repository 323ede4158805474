// Package lib holds the native library files go/build-native.sh installs; the Go file keeps
// the directory in `go mod vendor` copies.
package lib
