"""The model at the bottom: the facts of the ImageCache resource, the workload kinds, pod phases, the
prune reasons and the sizing rule, each written once. It imports nothing of the package but the errors;
registry/ and kube/ build on it, imagecache/ (the decisions) on those, cli/ on all of them."""
