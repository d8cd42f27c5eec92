"""Network concern: the VPC (or an existing one), subnets, NAT, flow logs and VPC endpoints."""
