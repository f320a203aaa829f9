// Command etcd is etcd's own main (go.etcd.io/etcd/v3 main.go), built from the server module so
// that the version is pinned by this module's go.mod.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
