"""Placeholder program: the aws tests read only this directory's Pulumi.<stack>.yaml files."""
