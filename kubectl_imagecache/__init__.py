"""kubectl-imagecache: size, warm and prune Alibaba Cloud ECI ImageCaches."""

__version__ = "0.1.0"
