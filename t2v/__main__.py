"""`python -m t2v` is the `t2v` command."""

from t2v.cli import main

raise SystemExit(main())
