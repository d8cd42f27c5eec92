"""The platform program (stacks/__main__.py, run as is), planned with variants that hand consumers credentials:
the subject of tests/platform/test_consumer_credentials.py."""

import runpy
from pathlib import Path

runpy.run_path(str(Path(__file__).resolve().parents[3] / "stacks" / "__main__.py"), run_name="__main__")
