"""GPU area: driver image, GPU operator, CSI fix for tainted GPU nodes, status."""
