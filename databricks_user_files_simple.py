#!/usr/bin/env python3
"""Count each user's files and bytes in DBFS and the Workspace; write a results CSV."""

import sys

from dbx_inventory.cli.files import main

if __name__ == "__main__":
    sys.exit(main())
