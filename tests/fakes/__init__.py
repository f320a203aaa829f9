"""Development fakes and real-component launchers the tests and the demo stand on.

Control plane (etcd + kube-apiserver), registry launcher, OCI pusher/puller, token server, fault
proxy and the emulated ECI cloud controller. Imports go one way: tests, hack/ and bench/ import
these; these import nothing from ``kubectl_imagecache`` (a fake never shares code with what it
checks) and nothing from ``tests`` outside this package.
"""
