"""Policy rules for mlops-infra: pure functions over type tokens and camelCase properties.

They know nothing of the library's components, so they guard any Pulumi stack. The pulumi-policy packs under
policies/<pack>/ and `mlops-infra check` both serve these same functions.
"""
