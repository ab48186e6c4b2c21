"""kube-prometheus-stack, the hub's metrics, GPU metrics and the Grafana dashboards."""
