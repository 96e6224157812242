from __future__ import annotations

import sys

from spendwarden.docs_gen import main

sys.exit(main())
