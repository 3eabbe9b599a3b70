#!/usr/bin/env python3
"""Export every user of a Databricks workspace, one userName per line."""

import sys

from dbx_inventory.cli.users import main

if __name__ == "__main__":
    sys.exit(main())
