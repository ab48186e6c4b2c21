"""Load balancers of Kubernetes Services on Octavia: doctor, cleanup, recreate."""
