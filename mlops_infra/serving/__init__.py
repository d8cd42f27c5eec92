"""Model serving: KServe InferenceServices reading models from the registry's artifact bucket."""
