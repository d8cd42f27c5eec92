"""Never runs: its stack file is not valid YAML."""
