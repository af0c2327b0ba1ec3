// Package nsenter joins and creates the container's namespaces in a C
// constructor before the Go runtime starts (see nsenter.c). Import it for its
// side effect from the rt binary; it does nothing unless _RT_INITSOCK is set.
package nsenter

/*
#cgo CFLAGS: -Wall -O2
*/
import "C"
