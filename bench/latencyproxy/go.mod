module kubectl-imagecache/bench/latencyproxy

go 1.22
