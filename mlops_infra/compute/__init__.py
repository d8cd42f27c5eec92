"""Compute concern: the EKS cluster, its add-ons and access, node groups, GPU pools and software, Karpenter, the
cluster autoscaler, the AWS Load Balancer Controller, storage classes and training foundations."""
