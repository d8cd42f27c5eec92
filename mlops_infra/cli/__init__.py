"""The `mlops-infra` command line. Subcommands import their heavy dependencies only when they run."""
