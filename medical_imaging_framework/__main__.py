"""`python -m medical_imaging_framework` is the same as `mif`."""

from __future__ import annotations

import sys

from medical_imaging_framework.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
