"""The composition: `MlopsPlatform` builds every concern from one `PlatformConfig`; `TeamWorkspace` is the
per-team stack that consumes the platform's outputs."""
